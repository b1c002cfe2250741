package demo

// The demo shop's assortment: departments, subcategories with the words
// their titles are made of, brands and device models. These tables are
// read-only; Generate never changes them.

// subcatSpec describes one subcategory (the second level of the category
// path) and how its items look, cost and sell.
type subcatSpec struct {
	dept  string
	name  string
	share float64 // relative number of items

	nouns     []string
	adjs      []string
	materials []string
	colours   []string
	sizes     []string
	// sizeInTitle puts the size at the end of the title ("mug 350 ml");
	// sizeScales makes bigger sizes (later in the list) cost more.
	sizeInTitle, sizeScales bool

	// median and sigma of the log-normal price before the brand's tier.
	median, sigma float64
	margin        [2]float64 // share of the price, drawn uniformly
	consumable    bool

	// complements names subcategories whose items are bought together with
	// this one's (a phone with a case). Each item gets a few specific
	// partner items there.
	complements []string
	// device marks subcategories whose items are devices of a model
	// ("phone"); fits marks accessories that fit exactly one model.
	device, fits string
	// brands, when set, are the only brands making this subcategory.
	brands []string
	blurbs []string
}

// brandSpec is a brand and the departments it sells in.
type brandSpec struct {
	name  string
	tier  int     // 0 budget, 1 mid-range, 2 premium
	share float64 // relative number of items within its departments
	depts []string
}

// modelSpec is a device model; accessories for another model of the same
// brand do not fit it (and are easy to confuse, hence IncompatibleWith).
type modelSpec struct {
	kind, brand, name string
}

var departments = []string{"Kitchen", "Garden", "Electronics", "Toys", "Fashion", "Sports", "Beauty", "Office"}

var brandTable = []brandSpec{
	{"Casa Forma", 1, 1, []string{"Kitchen"}},
	{"Brewmaster", 2, 1, []string{"Kitchen"}},
	{"Kochwerk", 1, 1, []string{"Kitchen"}},
	{"Nordic Hearth", 2, 1, []string{"Kitchen", "Garden"}},
	{"Porcelana", 1, 1, []string{"Kitchen"}},
	{"Heatwave", 1, 1, []string{"Kitchen", "Garden"}},
	{"GreenThumb", 0, 1, []string{"Garden"}},
	{"Verdalia", 1, 1, []string{"Garden"}},
	{"Patio & Co", 2, 1, []string{"Garden"}},
	{"Gartenfreund", 1, 1, []string{"Garden"}},
	{"Nexa", 2, 1, []string{"Electronics"}},
	{"Orbit", 1, 1, []string{"Electronics"}},
	{"Lumo", 0, 1, []string{"Electronics"}},
	{"Voltix", 0, 1, []string{"Electronics", "Toys"}},
	{"Shellcraft", 1, 1, []string{"Electronics"}},
	{"SonicWave", 1, 1, []string{"Electronics"}},
	{"Powercell", 0, 1, []string{"Electronics", "Sports"}},
	{"Brickly", 1, 1, []string{"Toys"}},
	{"Playmori", 0, 1, []string{"Toys"}},
	{"Tiny Giants", 1, 1, []string{"Toys"}},
	{"Puzzlewood", 2, 1, []string{"Toys"}},
	{"Maison Ardent", 2, 1, []string{"Fashion", "Beauty"}},
	{"Urban Thread", 0, 1, []string{"Fashion"}},
	{"Kestrel", 1, 1, []string{"Fashion", "Sports"}},
	{"Linnea", 1, 1, []string{"Fashion"}},
	{"Stride & Co", 1, 1, []string{"Fashion", "Sports"}},
	{"Trailhead", 1, 1, []string{"Sports"}},
	{"Peakline", 2, 1, []string{"Sports"}},
	{"Fjellsport", 1, 1, []string{"Sports", "Garden"}},
	{"Pulse Athletics", 0, 1, []string{"Sports"}},
	{"Lumière", 2, 1, []string{"Beauty"}},
	{"Botanica", 1, 1, []string{"Beauty"}},
	{"Velvetine", 0, 1, []string{"Beauty"}},
	{"Aqua Pura", 1, 1, []string{"Beauty"}},
	{"Inkora", 1, 1, []string{"Office"}},
	{"Printex", 0, 1, []string{"Office"}},
	{"Papiro", 1, 1, []string{"Office"}},
	{"Deskwise", 1, 1, []string{"Office"}},
	{"Ergoline", 2, 1, []string{"Office"}},
	{"Demo Basics", 0, 0.5, departments}, // the shop's own label
}

var modelTable = []modelSpec{
	{"phone", "Nexa", "Nexa 14"},
	{"phone", "Nexa", "Nexa 14 Pro"},
	{"phone", "Nexa", "Nexa 15"},
	{"phone", "Orbit", "Orbit S8"},
	{"phone", "Orbit", "Orbit S9"},
	{"phone", "Orbit", "Orbit S9 Ultra"},
	{"phone", "Lumo", "Lumo 7"},
	{"phone", "Lumo", "Lumo 7 Lite"},
	{"phone", "Lumo", "Lumo 8"},
	{"printer", "Inkora", "Inkora P200"},
	{"printer", "Inkora", "Inkora P300"},
	{"printer", "Printex", "Printex Jet 5"},
	{"printer", "Printex", "Printex Jet 6"},
}

var (
	kitchenColours = []string{"black", "white", "sage green", "terracotta", "cream", "slate grey", "ocean blue"}
	metalColours   = []string{"silver", "black", "graphite", "white", "copper"}
	phoneColours   = []string{"midnight black", "arctic white", "ocean blue", "titanium grey", "sage green", "coral pink"}
	fashionColours = []string{"black", "white", "navy", "olive", "camel", "burgundy", "sky blue", "grey marl", "ecru"}
	outdoorColours = []string{"forest green", "black", "orange", "sand", "slate blue", "red"}
	brightColours  = []string{"red", "blue", "green", "yellow", "orange", "pink", "purple"}
	euSizes        = []string{"EU 37", "EU 38", "EU 39", "EU 40", "EU 41", "EU 42", "EU 43", "EU 44", "EU 45"}
)

var subcatTable = []subcatSpec{
	// Kitchen
	{
		dept: "Kitchen", name: "Coffee machines", share: 0.7,
		nouns:     []string{"espresso machine", "filter coffee maker", "bean-to-cup coffee machine", "capsule coffee machine", "moka pot", "French press"},
		adjs:      []string{"compact", "programmable", "retro", "professional", "quiet", "slim"},
		materials: []string{"stainless steel", "brushed aluminium", "plastic"},
		colours:   metalColours,
		sizes:     []string{"1 l", "1.5 l", "1.8 l"},
		median:    160, sigma: 0.7, margin: [2]float64{0.18, 0.32},
		complements: []string{"Coffee & tea", "Descalers & cleaning", "Mugs & cups"},
		blurbs: []string{
			"Brews a full cup in under a minute.",
			"The removable water tank makes refilling easy.",
			"Heats up in 30 seconds and switches itself off when idle.",
		},
	},
	{
		dept: "Kitchen", name: "Coffee & tea", share: 0.9, consumable: true,
		nouns: []string{"coffee beans", "ground coffee", "espresso beans", "coffee capsules", "green tea", "black tea", "herbal tea"},
		adjs:  []string{"organic", "premium", "single-origin", "Fairtrade", "award-winning"},
		sizes: []string{"250 g", "500 g", "1 kg"}, sizeInTitle: true, sizeScales: true,
		median: 11, sigma: 0.35, margin: [2]float64{0.3, 0.5},
		blurbs: []string{
			"Roasted in small batches every week.",
			"Notes of dark chocolate and roasted hazelnut.",
			"The resealable bag keeps it fresh for weeks.",
		},
	},
	{
		dept: "Kitchen", name: "Mugs & cups", share: 1,
		nouns:     []string{"mug", "espresso cup", "travel mug", "tea cup", "latte glass"},
		adjs:      []string{"matte", "glossy", "speckled", "hand-glazed", "stackable", "rustic"},
		materials: []string{"ceramic", "stoneware", "porcelain", "double-walled glass", "stainless steel"},
		colours:   kitchenColours,
		sizes:     []string{"90 ml", "250 ml", "350 ml", "450 ml"}, sizeInTitle: true,
		median: 14, sigma: 0.45, margin: [2]float64{0.45, 0.65},
		complements: []string{"Coffee & tea"},
		blurbs: []string{
			"Dishwasher and microwave safe.",
			"Each piece is glazed by hand, so no two are exactly alike.",
			"Keeps drinks hot for longer.",
		},
	},
	{
		dept: "Kitchen", name: "Cookware", share: 1,
		nouns:     []string{"frying pan", "saucepan", "stockpot", "wok", "casserole dish", "grill pan"},
		adjs:      []string{"non-stick", "induction-ready", "heavy-duty", "oven-safe", "professional"},
		materials: []string{"cast iron", "stainless steel", "aluminium", "copper", "carbon steel"},
		colours:   []string{"black", "red", "cream", "graphite", "blue"},
		sizes:     []string{"20 cm", "24 cm", "28 cm", "32 cm"}, sizeInTitle: true, sizeScales: true,
		median: 45, sigma: 0.55, margin: [2]float64{0.35, 0.55},
		complements: []string{"Kitchen utensils"},
		blurbs: []string{
			"Works on gas, electric and induction hobs.",
			"Oven-safe up to 220 °C.",
			"Even heat distribution without hot spots.",
		},
	},
	{
		dept: "Kitchen", name: "Kitchen utensils", share: 1,
		nouns:     []string{"spatula", "whisk", "chef's knife", "cutting board", "ladle", "peeler", "tongs", "knife sharpener"},
		adjs:      []string{"ergonomic", "heat-resistant", "professional", "compact", "dishwasher-safe"},
		materials: []string{"silicone", "stainless steel", "bamboo", "olive wood", "nylon"},
		colours:   []string{"black", "red", "grey", "natural"},
		median:    13, sigma: 0.6, margin: [2]float64{0.45, 0.65},
		blurbs: []string{
			"Will not scratch non-stick pans.",
			"Balanced for comfortable everyday use.",
		},
	},
	{
		dept: "Kitchen", name: "Descalers & cleaning", share: 0.5, consumable: true,
		nouns: []string{"descaler", "coffee machine cleaning tablets", "milk system cleaner", "water filter cartridges", "dish soap"},
		adjs:  []string{"eco", "concentrated", "citrus", "fragrance-free"},
		sizes: []string{"250 ml", "500 ml", "1 l"}, sizeInTitle: true, sizeScales: true,
		median: 9, sigma: 0.35, margin: [2]float64{0.35, 0.55},
		blurbs: []string{
			"Use every four to six weeks for the best taste.",
			"Biodegradable formula.",
		},
	},

	// Garden
	{
		dept: "Garden", name: "Garden tools", share: 1,
		nouns:     []string{"spade", "pruning shears", "rake", "hand trowel", "watering can", "hedge shears", "garden fork", "leaf blower"},
		adjs:      []string{"lightweight", "ergonomic", "telescopic", "heavy-duty", "rust-proof"},
		materials: []string{"steel", "stainless steel", "ash wood", "fibreglass"},
		colours:   []string{"green", "orange", "black", "red"},
		median:    28, sigma: 0.6, margin: [2]float64{0.35, 0.55},
		complements: []string{"Seeds & fertiliser"},
		blurbs: []string{
			"Built to last for years of heavy use.",
			"The soft-grip handle reduces strain on the wrist.",
		},
	},
	{
		dept: "Garden", name: "Seeds & fertiliser", share: 0.8, consumable: true,
		nouns: []string{"tomato seeds", "lawn seed", "flower bulbs", "plant food", "compost", "herb seed kit"},
		adjs:  []string{"organic", "peat-free", "fast-growing", "heirloom", "all-purpose"},
		sizes: []string{"1 kg", "5 kg", "20 l", "40 l"}, sizeInTitle: true, sizeScales: true,
		median: 9, sigma: 0.5, margin: [2]float64{0.3, 0.5},
		blurbs: []string{
			"Sow from March to June.",
			"Feeds plants for up to three months.",
		},
	},
	{
		dept: "Garden", name: "Barbecues", share: 0.6,
		nouns:     []string{"gas barbecue", "charcoal grill", "kettle grill", "electric grill", "pellet smoker"},
		adjs:      []string{"portable", "3-burner", "compact", "premium", "foldable"},
		materials: []string{"enamelled steel", "stainless steel", "cast iron"},
		colours:   []string{"black", "red", "graphite", "green"},
		median:    220, sigma: 0.65, margin: [2]float64{0.2, 0.35},
		complements: []string{"Barbecue accessories"},
		blurbs: []string{
			"Large cooking area for up to eight people.",
			"The lid thermometer shows when it is ready.",
		},
	},
	{
		dept: "Garden", name: "Barbecue accessories", share: 0.7,
		nouns:     []string{"grill tongs", "grill cover", "grill brush", "meat thermometer", "charcoal briquettes", "pizza stone", "grilling gloves"},
		adjs:      []string{"heat-resistant", "weatherproof", "wireless", "long-handled"},
		materials: []string{"stainless steel", "polyester", "cordierite", "silicone"},
		colours:   []string{"black", "grey"},
		median:    18, sigma: 0.5, margin: [2]float64{0.45, 0.65},
		blurbs: []string{
			"Fits most standard grills.",
			"Easy to clean after use.",
		},
	},
	{
		dept: "Garden", name: "Outdoor furniture", share: 0.8,
		nouns:     []string{"garden chair", "sun lounger", "parasol", "garden table", "bench", "hammock", "bistro set"},
		adjs:      []string{"folding", "weatherproof", "stackable", "reclining", "2-seater"},
		materials: []string{"acacia wood", "teak", "aluminium", "rattan", "steel"},
		colours:   []string{"anthracite", "natural", "white", "sage green", "taupe"},
		median:    110, sigma: 0.6, margin: [2]float64{0.3, 0.5},
		complements: []string{"Outdoor furniture"},
		blurbs: []string{
			"Can stay outside all summer.",
			"Folds flat for winter storage.",
		},
	},
	{
		dept: "Garden", name: "Planters & pots", share: 0.8,
		nouns:     []string{"planter", "plant pot", "raised bed", "hanging basket", "window box"},
		adjs:      []string{"frost-proof", "self-watering", "glazed", "round", "square"},
		materials: []string{"terracotta", "ceramic", "fibre clay", "galvanised steel", "recycled plastic"},
		colours:   []string{"terracotta", "anthracite", "white", "sage green", "natural"},
		sizes:     []string{"20 cm", "30 cm", "40 cm", "60 cm"}, sizeInTitle: true, sizeScales: true,
		median: 22, sigma: 0.6, margin: [2]float64{0.4, 0.6},
		complements: []string{"Seeds & fertiliser"},
		blurbs: []string{
			"Drainage holes keep roots healthy.",
			"Suitable for indoor and outdoor use.",
		},
	},

	// Electronics
	{
		dept: "Electronics", name: "Smartphones", share: 0.8, device: "phone",
		brands:  []string{"Nexa", "Orbit", "Lumo"},
		nouns:   []string{"smartphone"},
		adjs:    []string{"5G", "dual-SIM"},
		colours: phoneColours,
		sizes:   []string{"128 GB", "256 GB", "512 GB"}, sizeInTitle: true, sizeScales: true,
		median: 420, sigma: 0.3, margin: [2]float64{0.15, 0.22},
		complements: []string{"Phone cases", "Screen protectors", "Chargers & cables"},
		blurbs: []string{
			"All-day battery and a 6.5-inch OLED display.",
			"Triple camera with night mode.",
			"Water resistant to IP68.",
		},
	},
	{
		dept: "Electronics", name: "Phone cases", share: 1.2, fits: "phone",
		brands:    []string{"Shellcraft", "Voltix", "Demo Basics", "Nexa", "Orbit", "Lumo"},
		nouns:     []string{"case", "flip case", "wallet case", "rugged case"},
		adjs:      []string{"slim", "shockproof", "MagSafe-compatible", "minimalist"},
		materials: []string{"silicone", "leather", "TPU", "recycled plastic", "vegan leather"},
		colours:   []string{"black", "clear", "navy", "red", "sand", "forest green"},
		median:    19, sigma: 0.4, margin: [2]float64{0.5, 0.65},
		blurbs: []string{
			"Raised edges protect the camera and screen.",
			"Drop-tested from two metres.",
		},
	},
	{
		dept: "Electronics", name: "Screen protectors", share: 0.6, fits: "phone",
		brands: []string{"Shellcraft", "Voltix", "Demo Basics"},
		nouns:  []string{"screen protector", "privacy screen protector", "camera lens protector"},
		adjs:   []string{"tempered glass", "anti-glare", "edge-to-edge", "9H"},
		sizes:  []string{"1-pack", "2-pack", "3-pack"}, sizeInTitle: true, sizeScales: true,
		median: 12, sigma: 0.35, margin: [2]float64{0.55, 0.65},
		blurbs: []string{
			"Bubble-free installation with the included frame.",
			"Keeps full touch sensitivity.",
		},
	},
	{
		dept: "Electronics", name: "Chargers & cables", share: 1,
		nouns:   []string{"USB-C charger", "USB-C cable", "wireless charger", "power bank", "car charger", "charging stand"},
		adjs:    []string{"fast", "braided", "compact", "65 W", "20 W", "foldable"},
		colours: []string{"black", "white"},
		median:  22, sigma: 0.5, margin: [2]float64{0.45, 0.65},
		blurbs: []string{
			"Charges to 50 % in about 30 minutes.",
			"Protects against overheating and short circuits.",
		},
	},
	{
		dept: "Electronics", name: "Headphones", share: 0.9,
		nouns:   []string{"wireless earbuds", "over-ear headphones", "sports earphones", "on-ear headphones"},
		adjs:    []string{"noise-cancelling", "lightweight", "foldable", "sweat-resistant", "studio"},
		colours: []string{"black", "white", "midnight blue", "sand", "silver"},
		median:  79, sigma: 0.6, margin: [2]float64{0.25, 0.45},
		complements: []string{"Chargers & cables"},
		blurbs: []string{
			"Up to 30 hours of playback.",
			"Pairs instantly with phones and laptops.",
		},
	},
	{
		dept: "Electronics", name: "Batteries", share: 0.5, consumable: true,
		brands: []string{"Powercell", "Voltix", "Demo Basics"},
		nouns:  []string{"AA batteries", "AAA batteries", "9V batteries", "C batteries", "D batteries"},
		adjs:   []string{"alkaline", "long-life", "rechargeable", "high-capacity"},
		sizes:  []string{"4-pack", "8-pack", "12-pack", "24-pack"}, sizeInTitle: true, sizeScales: true,
		median: 7, sigma: 0.35, margin: [2]float64{0.35, 0.55},
		blurbs: []string{
			"Up to ten years shelf life.",
			"Ideal for toys, remotes and headlamps.",
		},
	},

	// Toys
	{
		dept: "Toys", name: "Building sets", share: 1,
		nouns: []string{"building set", "construction kit", "marble run", "brick starter box", "robot building kit"},
		adjs:  []string{"creative", "motorised", "classic", "deluxe", "STEM"},
		sizes: []string{"250 pieces", "500 pieces", "1000 pieces"}, sizeInTitle: true, sizeScales: true,
		median: 35, sigma: 0.6, margin: [2]float64{0.3, 0.5},
		complements: []string{"Building sets"},
		blurbs: []string{
			"Compatible with all major brick systems.",
			"For ages 6 and up.",
		},
	},
	{
		dept: "Toys", name: "Board games", share: 1,
		nouns:  []string{"board game", "card game", "strategy game", "family game", "party game", "cooperative game"},
		adjs:   []string{"classic", "travel-size", "award-winning", "fast-paced"},
		median: 25, sigma: 0.45, margin: [2]float64{0.35, 0.5},
		blurbs: []string{
			"For 2 to 6 players, about 45 minutes a game.",
			"Easy to learn, hard to master.",
		},
	},
	{
		dept: "Toys", name: "Remote control toys", share: 0.8,
		nouns:   []string{"remote control car", "camera drone", "RC boat", "RC monster truck", "stunt car"},
		adjs:    []string{"high-speed", "waterproof", "off-road", "beginner", "foldable"},
		colours: brightColours,
		median:  55, sigma: 0.6, margin: [2]float64{0.3, 0.5},
		complements: []string{"Batteries"},
		blurbs: []string{
			"Reaches 25 km/h on flat ground.",
			"Batteries not included.",
		},
	},
	{
		dept: "Toys", name: "Dolls & figures", share: 1,
		nouns:   []string{"doll", "action figure", "dollhouse", "figure set", "plush toy"},
		adjs:    []string{"collectible", "posable", "classic", "soft"},
		colours: brightColours,
		median:  20, sigma: 0.55, margin: [2]float64{0.4, 0.6},
		complements: []string{"Dolls & figures"},
		blurbs: []string{
			"Made from child-safe materials.",
			"Collect the whole series.",
		},
	},
	{
		dept: "Toys", name: "Puzzles", share: 0.8,
		nouns: []string{"jigsaw puzzle", "3D puzzle", "floor puzzle", "wooden puzzle"},
		adjs:  []string{"landscape", "panoramic", "vintage map", "wildlife"},
		sizes: []string{"500 pieces", "1000 pieces", "2000 pieces"}, sizeInTitle: true, sizeScales: true,
		median: 18, sigma: 0.4, margin: [2]float64{0.4, 0.6},
		blurbs: []string{
			"Precision-cut pieces that fit snugly.",
			"Includes a poster of the finished picture.",
		},
	},

	// Fashion
	{
		dept: "Fashion", name: "Women's clothing", share: 1.2,
		nouns:     []string{"dress", "blouse", "cardigan", "jeans", "skirt", "jumper", "trench coat"},
		adjs:      []string{"relaxed", "slim-fit", "cropped", "oversized", "wrap", "high-waisted"},
		materials: []string{"cotton", "linen", "merino wool", "viscose", "organic cotton", "denim"},
		colours:   fashionColours,
		sizes:     []string{"XS", "S", "M", "L", "XL"},
		median:    45, sigma: 0.55, margin: [2]float64{0.45, 0.65},
		complements: []string{"Socks & accessories", "Bags"},
		blurbs: []string{
			"True to size; the model wears a size S.",
			"Machine washable at 30 °C.",
		},
	},
	{
		dept: "Fashion", name: "Men's clothing", share: 1.2,
		nouns:     []string{"shirt", "chinos", "hoodie", "jacket", "T-shirt", "jumper", "jeans"},
		adjs:      []string{"regular-fit", "slim-fit", "relaxed", "heavyweight", "quilted"},
		materials: []string{"cotton", "linen", "merino wool", "organic cotton", "denim", "fleece"},
		colours:   fashionColours,
		sizes:     []string{"S", "M", "L", "XL", "XXL"},
		median:    42, sigma: 0.55, margin: [2]float64{0.45, 0.65},
		complements: []string{"Socks & accessories"},
		blurbs: []string{
			"True to size; the model wears a size M.",
			"Machine washable at 30 °C.",
		},
	},
	{
		dept: "Fashion", name: "Shoes", share: 1,
		nouns:     []string{"sneakers", "ankle boots", "loafers", "sandals", "Chelsea boots", "espadrilles"},
		adjs:      []string{"lightweight", "classic", "chunky", "waterproof", "breathable"},
		materials: []string{"leather", "suede", "canvas", "recycled mesh"},
		colours:   fashionColours,
		sizes:     euSizes,
		median:    75, sigma: 0.45, margin: [2]float64{0.4, 0.6},
		complements: []string{"Socks & accessories"},
		blurbs: []string{
			"Cushioned insole for all-day comfort.",
			"Runs small: order half a size up.",
		},
	},
	{
		dept: "Fashion", name: "Bags", share: 0.8,
		nouns:     []string{"backpack", "tote bag", "crossbody bag", "weekender", "laptop bag", "belt bag"},
		adjs:      []string{"water-repellent", "roll-top", "minimalist", "vintage", "everyday"},
		materials: []string{"leather", "canvas", "recycled nylon", "waxed cotton"},
		colours:   fashionColours,
		median:    55, sigma: 0.55, margin: [2]float64{0.45, 0.65},
		blurbs: []string{
			"Padded sleeve fits a 15-inch laptop.",
			"Adjustable strap.",
		},
	},
	{
		dept: "Fashion", name: "Socks & accessories", share: 0.8,
		nouns:     []string{"socks 3-pack", "belt", "scarf", "beanie", "gloves", "cap"},
		adjs:      []string{"ribbed", "classic", "striped", "chunky-knit", "reversible"},
		materials: []string{"cotton", "wool", "leather", "cashmere blend", "bamboo"},
		colours:   fashionColours,
		median:    15, sigma: 0.5, margin: [2]float64{0.5, 0.65},
		blurbs: []string{
			"Soft against the skin.",
			"A small gift that always fits.",
		},
	},

	// Sports
	{
		dept: "Sports", name: "Tents", share: 0.7,
		nouns:   []string{"2-person tent", "4-person tent", "pop-up tent", "trekking tent", "family tent"},
		adjs:    []string{"lightweight", "waterproof", "freestanding", "quick-pitch"},
		colours: outdoorColours,
		median:  160, sigma: 0.6, margin: [2]float64{0.3, 0.5},
		complements: []string{"Sleeping bags", "Camping gear"},
		blurbs: []string{
			"Pitches in under five minutes.",
			"Taped seams and a 3000 mm hydrostatic head.",
		},
	},
	{
		dept: "Sports", name: "Sleeping bags", share: 0.8,
		nouns:   []string{"mummy sleeping bag", "rectangular sleeping bag", "sleeping mat", "inflatable pillow"},
		adjs:    []string{"3-season", "lightweight", "compact", "down-filled", "synthetic"},
		colours: outdoorColours,
		median:  65, sigma: 0.55, margin: [2]float64{0.35, 0.55},
		complements: []string{"Sleeping bags"},
		blurbs: []string{
			"Comfort temperature 5 °C.",
			"Packs down to the size of a water bottle.",
		},
	},
	{
		dept: "Sports", name: "Camping gear", share: 1,
		nouns:   []string{"camping stove", "headlamp", "camping lantern", "gas cartridge", "water filter", "camping cookset"},
		adjs:    []string{"ultralight", "rechargeable", "compact", "foldable"},
		colours: outdoorColours,
		median:  25, sigma: 0.6, margin: [2]float64{0.4, 0.6},
		complements: []string{"Batteries"},
		blurbs: []string{
			"Weighs less than 300 g.",
			"Built for wet and windy weather.",
		},
	},
	{
		dept: "Sports", name: "Running shoes", share: 1,
		nouns:   []string{"road running shoes", "trail running shoes", "racing shoes"},
		adjs:    []string{"cushioned", "lightweight", "stability", "waterproof"},
		colours: []string{"black", "white", "neon yellow", "blue", "coral"},
		sizes:   euSizes,
		median:  110, sigma: 0.3, margin: [2]float64{0.35, 0.5},
		complements: []string{"Sports nutrition"},
		blurbs: []string{
			"8 mm drop and a responsive foam midsole.",
			"Grippy outsole for wet roads.",
		},
	},
	{
		dept: "Sports", name: "Fitness", share: 1,
		nouns:     []string{"yoga mat", "dumbbell set", "resistance bands", "kettlebell", "foam roller", "skipping rope"},
		adjs:      []string{"non-slip", "adjustable", "extra-thick", "compact"},
		materials: []string{"TPE", "cast iron", "natural rubber", "neoprene"},
		colours:   []string{"black", "purple", "teal", "grey", "coral"},
		median:    30, sigma: 0.6, margin: [2]float64{0.4, 0.6},
		complements: []string{"Fitness", "Sports nutrition"},
		blurbs: []string{
			"Ideal for home workouts.",
			"Comes with a printed exercise guide.",
		},
	},
	{
		dept: "Sports", name: "Sports nutrition", share: 0.7, consumable: true,
		nouns: []string{"whey protein", "energy bars", "electrolyte tablets", "energy gels", "vegan protein"},
		adjs:  []string{"chocolate", "vanilla", "berry", "salted caramel", "unflavoured"},
		sizes: []string{"12-pack", "500 g", "1 kg", "2 kg"}, sizeInTitle: true, sizeScales: true,
		median: 22, sigma: 0.45, margin: [2]float64{0.3, 0.5},
		blurbs: []string{
			"20 g of protein per serving.",
			"Tested for banned substances.",
		},
	},

	// Beauty
	{
		dept: "Beauty", name: "Hair care", share: 1.2, consumable: true,
		nouns: []string{"shampoo", "conditioner", "hair mask", "dry shampoo", "heat protection spray", "hair oil"},
		adjs:  []string{"moisturising", "volumising", "sulphate-free", "repair", "anti-dandruff"},
		sizes: []string{"100 ml", "250 ml", "400 ml"}, sizeInTitle: true, sizeScales: true,
		median: 9, sigma: 0.45, margin: [2]float64{0.4, 0.6},
		complements: []string{"Hair care"},
		blurbs: []string{
			"Suitable for colour-treated hair.",
			"Vegan and cruelty-free.",
		},
	},
	{
		dept: "Beauty", name: "Skin care", share: 1.2, consumable: true,
		nouns: []string{"face cream", "serum", "cleanser", "sunscreen SPF 50", "lip balm", "night cream", "toner"},
		adjs:  []string{"hydrating", "vitamin C", "fragrance-free", "anti-ageing", "sensitive-skin"},
		sizes: []string{"15 ml", "30 ml", "50 ml", "200 ml"}, sizeInTitle: true, sizeScales: true,
		median: 19, sigma: 0.55, margin: [2]float64{0.5, 0.65},
		complements: []string{"Skin care"},
		blurbs: []string{
			"Dermatologically tested.",
			"Absorbs quickly without a greasy feel.",
		},
	},
	{
		dept: "Beauty", name: "Make-up", share: 1,
		nouns:   []string{"mascara", "lipstick", "foundation", "eyeshadow palette", "nail polish", "concealer"},
		adjs:    []string{"long-lasting", "waterproof", "matte", "satin", "vegan"},
		colours: []string{"nude", "ruby red", "rose", "coral", "plum", "ivory", "sand"},
		median:  16, sigma: 0.5, margin: [2]float64{0.5, 0.65},
		complements: []string{"Make-up"},
		blurbs: []string{
			"Stays put for up to 16 hours.",
			"Free from parabens.",
		},
	},
	{
		dept: "Beauty", name: "Fragrance", share: 0.7,
		nouns: []string{"eau de parfum", "eau de toilette", "body mist", "perfume gift set"},
		adjs:  []string{"floral", "woody", "fresh", "amber", "citrus"},
		sizes: []string{"30 ml", "50 ml", "100 ml"}, sizeInTitle: true, sizeScales: true,
		median: 55, sigma: 0.5, margin: [2]float64{0.35, 0.55},
		blurbs: []string{
			"Top notes of bergamot and pink pepper.",
			"A signature scent for day and evening.",
		},
	},
	{
		dept: "Beauty", name: "Hair tools", share: 0.6,
		nouns:   []string{"hair dryer", "hair straightener", "curling iron", "hair clipper", "hot brush"},
		adjs:    []string{"ionic", "cordless", "ceramic", "travel", "professional"},
		colours: []string{"black", "rose gold", "white", "graphite"},
		median:  49, sigma: 0.6, margin: [2]float64{0.3, 0.5},
		complements: []string{"Hair care"},
		blurbs: []string{
			"Three heat settings and a cool shot.",
			"Heats up in 20 seconds.",
		},
	},

	// Office
	{
		dept: "Office", name: "Printers", share: 0.6, device: "printer",
		brands:  []string{"Inkora", "Printex"},
		nouns:   []string{"inkjet printer", "laser printer", "all-in-one printer", "photo printer"},
		adjs:    []string{"wireless", "duplex", "compact"},
		colours: []string{"black", "white"},
		median:  140, sigma: 0.5, margin: [2]float64{0.15, 0.25},
		complements: []string{"Ink & toner", "Paper & notebooks"},
		blurbs: []string{
			"Prints up to 20 pages a minute.",
			"Print from your phone over Wi-Fi.",
		},
	},
	{
		dept: "Office", name: "Ink & toner", share: 0.8, fits: "printer", consumable: true,
		brands: []string{"Inkora", "Printex", "Demo Basics"},
		nouns:  []string{"ink cartridge", "toner cartridge", "ink multipack"},
		adjs:   []string{"black", "colour", "high-yield", "tri-colour"},
		sizes:  []string{"standard", "XL"}, sizeInTitle: true, sizeScales: true,
		median: 28, sigma: 0.4, margin: [2]float64{0.45, 0.65},
		blurbs: []string{
			"Prints up to 600 pages.",
			"Smudge-resistant, fade-resistant ink.",
		},
	},
	{
		dept: "Office", name: "Paper & notebooks", share: 1, consumable: true,
		nouns:  []string{"printer paper", "notebook", "sticky notes", "spiral notebook", "photo paper"},
		adjs:   []string{"recycled", "dotted", "ruled", "premium", "A4", "A5"},
		median: 7, sigma: 0.5, margin: [2]float64{0.35, 0.55},
		blurbs: []string{
			"FSC-certified paper.",
			"Smooth 90 g/m² pages that fountain pens love.",
		},
	},
	{
		dept: "Office", name: "Writing instruments", share: 0.8, consumable: true,
		nouns:   []string{"ballpoint pens", "gel pens", "fountain pen", "highlighters", "fineliners", "pencils"},
		adjs:    []string{"refillable", "quick-dry", "retractable", "fine-tip"},
		colours: []string{"black", "blue", "assorted"},
		sizes:   []string{"single", "pack of 5", "pack of 10"}, sizeInTitle: true, sizeScales: true,
		median: 6, sigma: 0.55, margin: [2]float64{0.45, 0.65},
		blurbs: []string{
			"Smooth, skip-free writing.",
			"Ink dries in seconds.",
		},
	},
	{
		dept: "Office", name: "Desk accessories", share: 1,
		nouns:     []string{"desk organiser", "monitor stand", "desk lamp", "file tray", "desk mat", "laptop stand"},
		adjs:      []string{"adjustable", "minimalist", "LED", "stackable", "ergonomic"},
		materials: []string{"bamboo", "aluminium", "felt", "steel", "walnut"},
		colours:   []string{"black", "white", "grey", "natural"},
		median:    28, sigma: 0.55, margin: [2]float64{0.4, 0.6},
		blurbs: []string{
			"Keeps your desk tidy.",
			"Non-slip feet protect the desk surface.",
		},
	},
	{
		dept: "Office", name: "Office chairs", share: 0.6,
		nouns:     []string{"office chair", "ergonomic chair", "desk chair", "kneeling chair", "gaming chair"},
		adjs:      []string{"mesh-back", "adjustable", "high-back", "swivel"},
		materials: []string{"mesh", "fabric", "faux leather"},
		colours:   []string{"black", "grey", "blue", "white"},
		median:    190, sigma: 0.5, margin: [2]float64{0.25, 0.45},
		complements: []string{"Desk accessories"},
		blurbs: []string{
			"Adjustable lumbar support and armrests.",
			"Tested for 8 hours of daily use.",
		},
	},
}

// generic closing sentences for descriptions.
var (
	durableBlurbs    = []string{"Free returns within 30 days.", "Ships within one working day.", "Comes with a two-year warranty."}
	consumableBlurbs = []string{"Free returns within 30 days.", "Ships within one working day.", "Subscribe and save on repeat orders."}
)
