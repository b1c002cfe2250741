-- The base schema: catalogue, events, users, and the derived data a build
-- publishes (vectors, neighbour tables, popularity, models).

CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public;

CREATE TABLE items (
    id                text PRIMARY KEY,
    title             text NOT NULL,
    description       text NOT NULL DEFAULT '',
    category          text[],
    brand             text NOT NULL DEFAULT '',
    price             double precision NOT NULL,
    cost              double precision NOT NULL DEFAULT 0,
    currency          text NOT NULL DEFAULT '',
    stock             integer NOT NULL,
    attributes        jsonb,
    incompatible_with text[],
    consumable        boolean NOT NULL DEFAULT false,
    url               text NOT NULL DEFAULT '',
    image_url         text NOT NULL DEFAULT '',
    active            boolean NOT NULL,
    synthetic         text[],
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);

-- One row per event line (an order with three items is three rows with
-- line 0..2); an event without items (search) is one row with item_id ''.
-- Rows of one event are written in one statement and never updated, so the
-- primary key is also the de-duplication key.
CREATE TABLE events (
    event_id   text NOT NULL,
    line       smallint NOT NULL,
    type       smallint NOT NULL,
    ts         timestamptz NOT NULL,
    session_id text NOT NULL DEFAULT '',
    user_id    text NOT NULL DEFAULT '',
    item_id    text NOT NULL DEFAULT '',
    quantity   integer NOT NULL DEFAULT 0,
    price      double precision NOT NULL DEFAULT 0,
    order_id   text NOT NULL DEFAULT '',
    query      text NOT NULL DEFAULT '',
    channel    text NOT NULL DEFAULT '',
    device     text NOT NULL DEFAULT '',
    PRIMARY KEY (event_id, line)
);
-- Builds and evaluation read time windows in order.
CREATE INDEX events_ts_idx ON events (ts);
-- Profiles and erasure look events up by shopper.
CREATE INDEX events_user_idx ON events (user_id, ts) WHERE user_id <> '';
CREATE INDEX events_session_idx ON events (session_id, ts) WHERE session_id <> '';

CREATE TABLE users (
    id              text PRIMARY KEY,
    anonymous_ids   text[],
    personalization boolean NOT NULL DEFAULT false,
    updated_at      timestamptz NOT NULL
);

CREATE TABLE builds (
    seq        bigserial UNIQUE,
    version    text PRIMARY KEY,
    created_at timestamptz NOT NULL,
    data_from  timestamptz NOT NULL,
    data_to    timestamptz NOT NULL
);

CREATE TABLE models (
    version text NOT NULL REFERENCES builds (version) ON DELETE CASCADE,
    kind    text NOT NULL,
    blob    bytea NOT NULL,
    PRIMARY KEY (version, kind)
);

-- The vector served for each item (unit length, so cosine is a dot product).
CREATE TABLE item_vectors (
    item_id    text PRIMARY KEY,
    embedding  vector(128) NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX item_vectors_hnsw_idx ON item_vectors USING hnsw (embedding vector_cosine_ops);

CREATE TABLE item_neighbors (
    kind         text NOT NULL,
    item_id      text NOT NULL,
    neighbor_ids text[] NOT NULL,
    scores       double precision[] NOT NULL,
    PRIMARY KEY (kind, item_id)
);

CREATE TABLE popularity (
    scope    text PRIMARY KEY,
    item_ids text[] NOT NULL,
    scores   double precision[] NOT NULL
);
