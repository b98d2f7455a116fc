package sqlstore_test

import (
	"testing"

	"github.com/atriumid/atrium/internal/sqlstore"
	"github.com/atriumid/atrium/internal/sqlstore/storetest"
	"github.com/atriumid/atrium/internal/testenv"
)

func TestConformance(t *testing.T) {
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) *sqlstore.DB { return testenv.OpenDB(t, e.URL(t)) })
			storetest.RunFresh(t, func(t *testing.T) string { return e.URL(t) })
			t.Run("EraseCredentials", func(t *testing.T) { storetest.RunEraseCredentials(t, testenv.OpenDB(t, e.URL(t))) })
		})
	}
}

func TestAuthConformance(t *testing.T) {
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			storetest.RunAuth(t, func(t *testing.T) *sqlstore.DB { return testenv.OpenDB(t, e.URL(t)) })
		})
	}
}
