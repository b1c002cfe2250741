package eval

// The real data sets beside the checkout (../shared/data).
const (
	onlineRetailPath = "../../shared/data/online-retail/online_retail_2010-12_to_2011-10.csv.gz"
	retailRocketDir  = "../../shared/data/retailrocket-sessions"
)
