package siwe

import "crypto/rand"

// NewNonce returns a fresh nonce for a sign-in request: 26 characters of
// base32 (A–Z, 2–7), 130 bits from the operating system's CSPRNG. It
// satisfies the ABNF's 8*( ALPHA / DIGIT ).
func NewNonce() string { return rand.Text() }
