package memstore

import (
	"testing"

	"github.com/recs-server/recs/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(*testing.T) storetest.Store { return New() })
}
