package app

import (
	"github.com/atriumid/atrium/internal/config"
	"github.com/atriumid/atrium/internal/credential"
	"github.com/atriumid/atrium/internal/passkey"
	"github.com/atriumid/atrium/internal/sqlstore"
	"github.com/atriumid/atrium/internal/throttle"
)

// passkeyConfig builds the WebAuthn relying party from configuration (the
// RP ID and origins, which config.Validate derives from the public URL
// when they are not set), never from a request. Without an RP ID, as on a
// public URL that is an IP address, it returns nil: passkeys stay off.
// Beginning login ceremonies is limited per client address as sign-in
// nonces are.
func passkeyConfig(cfg config.Config, db *sqlstore.DB) (*credential.PasskeyConfig, error) {
	if cfg.WebAuthnRPID == "" {
		return nil, nil
	}
	rp, err := passkey.New(passkey.Config{RPID: cfg.WebAuthnRPID, Origins: cfg.WebAuthnOrigins, Name: "Atrium"})
	if err != nil {
		return nil, err
	}
	return &credential.PasskeyConfig{Store: db.Passkeys(), RP: rp, Ceremonies: throttle.New(db.Throttle(), NoncePolicy, nil)}, nil
}
