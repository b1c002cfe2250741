// recs storefront traffic for k6: the same mix, sessions and popularity
// skew as the Go load generator (loadtest.ScenarioMixed), at a constant
// arrival rate.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e RATE=2000 -e DURATION=60s loadtest/k6/mixed.js
//
// Environment (all optional):
//   BASE_URL   server to test, loopback only               http://127.0.0.1:8080
//   RATE       requests per second                         200
//   DURATION   measured phase                              60s
//   WARMUP     unmeasured phase before it, same rate       0s (e.g. 10s)
//   ITEMS      demo shop size: ids D-000001..D-<ITEMS>     3000
//   ZIPF_S     popularity skew exponent                    1.0
//   MIX        endpoint weights                            pdp=50,home=20,cart=15,events=10,rank=5
//              (stock=N adds POST /v1/stock batches: a stock-update storm)
//   EXCLUDE    endpoints to leave out, e.g. cart,rank      (none)
//   LIMIT      limit of recommendation requests            10
//   P95_MS     threshold on p95 latency, ms                5
//   P99_MS     threshold on p99 latency, ms                10
//   MAX_FAILED threshold on the share of failed requests   0.001
//   PRE_VUS / MAX_VUS  VUs allocated up front / at most    RATE/20 / RATE/2
//
// Every non-2xx answer counts as failed (http_req_failed), a 404 from an
// endpoint the server does not have included. k6 starts each request as an
// iteration of a VU; when all MAX_VUS are busy it drops the iteration
// (dropped_iterations) instead of queueing it, so a stall shows as dropped
// iterations rather than as latency: the thresholds fail on both.

import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';

const env = (name, def) => (__ENV[name] !== undefined && __ENV[name] !== '' ? __ENV[name] : def);

const BASE_URL = env('BASE_URL', 'http://127.0.0.1:8080').replace(/\/+$/, '');
const RATE = parseInt(env('RATE', '200'), 10);
const DURATION = env('DURATION', '60s');
const WARMUP = env('WARMUP', '0s');
const ITEMS = parseInt(env('ITEMS', '3000'), 10);
const ZIPF_S = parseFloat(env('ZIPF_S', '1.0'));
const LIMIT = parseInt(env('LIMIT', '10'), 10);
const P95_MS = parseFloat(env('P95_MS', '5'));
const P99_MS = parseFloat(env('P99_MS', '10'));
const MAX_FAILED = parseFloat(env('MAX_FAILED', '0.001'));
const PRE_VUS = parseInt(env('PRE_VUS', String(Math.max(10, Math.ceil(RATE / 20)))), 10);
const MAX_VUS = parseInt(env('MAX_VUS', String(Math.max(50, Math.ceil(RATE / 2)))), 10);
const RANK_ITEMS = 24; // ids on a category page to rank
const STOCK_BATCH = 100; // updates per POST /v1/stock

// Refuse anything but this machine, like the Go generator.
const host = (BASE_URL.match(/^http:\/\/(\[[^\]]+\]|[^/:]+)(:\d+)?$/) || [])[1];
if (!host || !(host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host))) {
  throw new Error(`BASE_URL ${BASE_URL}: only http:// loopback targets (127.0.0.0/8, [::1], localhost) are allowed`);
}
if (!(RATE > 0) || !(ITEMS > 0)) {
  throw new Error('RATE and ITEMS must be positive integers');
}

function parseMix(s) {
  const mix = {};
  for (const part of s.split(',')) {
    const [name, w] = part.split('=').map((x) => x.trim());
    if (!name) continue;
    const weight = parseFloat(w);
    if (!(weight >= 0)) throw new Error(`MIX: weight of ${name} must be a non-negative number`);
    mix[name] = weight;
  }
  return mix;
}

const ENDPOINTS = ['pdp', 'home', 'cart', 'events', 'rank', 'stock'];
const excluded = env('EXCLUDE', '').split(',').map((x) => x.trim()).filter((x) => x);
const rawMix = parseMix(env('MIX', 'pdp=50,home=20,cart=15,events=10,rank=5'));
const mix = [];
let mixTotal = 0;
for (const name of Object.keys(rawMix)) {
  if (!ENDPOINTS.includes(name)) throw new Error(`MIX: unknown endpoint ${name} (known: ${ENDPOINTS.join(', ')})`);
  if (excluded.includes(name) || rawMix[name] === 0) continue;
  mixTotal += rawMix[name];
  mix.push({ name, cum: mixTotal });
}
if (mix.length === 0) throw new Error('the traffic mix is empty');

function pickEndpoint() {
  const u = Math.random() * mixTotal;
  for (const e of mix) {
    if (u < e.cum) return e.name;
  }
  return mix[mix.length - 1].name;
}

// Zipf popularity by inverse CDF: P(rank k) ~ 1/k^s over 1..n. The first
// HEAD ranks, which carry most of the mass, use an exact cumulative table
// and a binary search; the long tail the inverse of the continuous
// approximation, so a catalogue of millions costs no memory per VU.
function makeZipf(n, s) {
  const head = Math.min(n, 10000);
  const cum = new Float64Array(head);
  let sum = 0;
  for (let k = 1; k <= head; k++) {
    sum += Math.pow(k, -s);
    cum[k - 1] = sum;
  }
  // integral of x^-s from a to b, and its inverse in b
  const integral = (a, b) => (s === 1 ? Math.log(b / a) : (Math.pow(b, 1 - s) - Math.pow(a, 1 - s)) / (1 - s));
  const a = head + 0.5;
  const tail = n > head ? integral(a, n + 0.5) : 0;
  return function draw() {
    let u = Math.random() * (sum + tail);
    if (u < sum) {
      let lo = 0;
      let hi = head - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cum[mid] > u) hi = mid;
        else lo = mid + 1;
      }
      return lo + 1;
    }
    u -= sum;
    const x = s === 1 ? a * Math.exp(u) : Math.pow(Math.pow(a, 1 - s) + u * (1 - s), 1 / (1 - s));
    return Math.min(n, Math.max(head + 1, Math.round(x)));
  };
}

const drawRank = makeZipf(ITEMS, ZIPF_S);
const pages = Math.max(1, Math.floor(ITEMS / RANK_ITEMS));
const drawPage = makeZipf(pages, ZIPF_S);

// Demo shop ids, most popular first: rank 1 is D-000001.
function itemID(rank) {
  const s = String(rank);
  return 'D-' + (s.length >= 6 ? s : '000000'.slice(s.length) + s);
}

const scenarioBase = {
  executor: 'constant-arrival-rate',
  rate: RATE,
  timeUnit: '1s',
  preAllocatedVUs: PRE_VUS,
  maxVUs: MAX_VUS,
  gracefulStop: '5s',
};

const scenarios = { mixed: { ...scenarioBase, duration: DURATION, startTime: WARMUP } };
if (WARMUP !== '0s' && WARMUP !== '0') {
  scenarios.warmup = { ...scenarioBase, duration: WARMUP };
}

const thresholds = {
  'http_req_duration{scenario:mixed}': [`p(95)<${P95_MS}`, `p(99)<${P99_MS}`],
  'http_req_failed{scenario:mixed}': [`rate<${MAX_FAILED}`],
  'dropped_iterations{scenario:mixed}': ['count<1'],
};
for (const e of mix) {
  thresholds[`http_req_duration{scenario:mixed,endpoint:${e.name}}`] = [`p(99)<${P99_MS}`];
  thresholds[`http_req_failed{scenario:mixed,endpoint:${e.name}}`] = [`rate<${MAX_FAILED}`];
}

export const options = {
  scenarios,
  thresholds,
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'p(99.9)', 'max', 'count'],
  discardResponseBodies: true,
};

export function setup() {
  return { run: 'k6' + Date.now().toString(36) };
}

// One session per VU at a time (module state is per VU): it views items,
// reports the views as events, and reads recommendations for them.
const session = { num: 0, left: 0, id: '', user: '', viewed: [], pending: 0 };

function nextSession(run) {
  session.num++;
  session.left = 5 + Math.floor(Math.random() * 36);
  session.id = `lt-${run}-s${exec.vu.idInTest}-${session.num}`;
  session.user = `lt-${run}-u${exec.vu.idInTest}-${Math.ceil(session.num / 3)}`;
  session.viewed = [];
  session.pending = 0;
}

function view() {
  const id = itemID(drawRank());
  session.viewed.push(id);
  if (session.viewed.length > 8) session.viewed.shift();
  session.pending = Math.min(session.pending + 1, 8);
  return id;
}

const JSON_HEADERS = { 'Content-Type': 'application/json' };

function params(name) {
  // name groups every URL of an endpoint into one series.
  return { headers: JSON_HEADERS, tags: { name, endpoint: name }, timeout: '2s' };
}

function visitorQuery() {
  return `session_id=${encodeURIComponent(session.id)}&user_id=${encodeURIComponent(session.user)}`;
}

export default function (data) {
  if (session.left <= 0) nextSession(data.run);
  session.left--;
  const name = pickEndpoint();
  let res;
  switch (name) {
    case 'pdp': {
      const id = view();
      res = http.get(`${BASE_URL}/v1/recommendations/pdp?item_id=${encodeURIComponent(id)}&limit=${LIMIT}&${visitorQuery()}`, params(name));
      break;
    }
    case 'home':
      res = http.get(`${BASE_URL}/v1/recommendations/home?limit=${LIMIT}&${visitorQuery()}`, params(name));
      break;
    case 'cart': {
      if (session.viewed.length === 0) view();
      const n = Math.min(1 + Math.floor(Math.random() * 3), session.viewed.length);
      const body = { session_id: session.id, user_id: session.user, item_ids: session.viewed.slice(-n), limit: LIMIT };
      res = http.post(`${BASE_URL}/v1/recommendations/cart`, JSON.stringify(body), params(name));
      break;
    }
    case 'events': {
      if (session.pending === 0) view();
      const n = Math.min(session.pending, 4);
      const now = new Date().toISOString();
      const iter = exec.scenario.iterationInTest;
      const events = session.viewed.slice(-n).map((id, k) => ({
        event_id: `lt-${data.run}-${exec.scenario.name}-${iter}-${k}`,
        type: 'view_item',
        time: now,
        session_id: session.id,
        user_id: session.user,
        items: [{ item_id: id }],
      }));
      session.pending = 0;
      res = http.post(`${BASE_URL}/v1/events`, JSON.stringify(events), params(name));
      break;
    }
    case 'rank': {
      const start = Math.min((drawPage() - 1) * RANK_ITEMS, Math.max(0, ITEMS - RANK_ITEMS));
      const ids = [];
      for (let i = 1; i <= Math.min(RANK_ITEMS, ITEMS); i++) ids.push(itemID(start + i));
      const body = { session_id: session.id, user_id: session.user, placement: 'category', item_ids: ids };
      res = http.post(`${BASE_URL}/v1/rank`, JSON.stringify(body), params(name));
      break;
    }
    case 'stock': {
      const batch = Math.min(STOCK_BATCH, ITEMS);
      const start = Math.floor(Math.random() * (ITEMS - batch + 1));
      const updates = [];
      for (let i = 1; i <= batch; i++) updates.push({ item_id: itemID(start + i), stock: Math.floor(Math.random() * 50) });
      res = http.post(`${BASE_URL}/v1/stock`, JSON.stringify(updates), params(name));
      break;
    }
  }
  check(res, { [`${name} 2xx`]: (r) => r.status >= 200 && r.status < 300 });
}
