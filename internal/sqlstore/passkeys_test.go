package sqlstore_test

import (
	"testing"

	"github.com/atriumid/atrium/internal/sqlstore"
	"github.com/atriumid/atrium/internal/sqlstore/storetest"
	"github.com/atriumid/atrium/internal/testenv"
)

func TestPasskeyConformance(t *testing.T) {
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			storetest.RunPasskeys(t, func(t *testing.T) *sqlstore.DB { return testenv.OpenDB(t, e.URL(t)) })
		})
	}
}
