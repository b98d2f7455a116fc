package app

// RecoverPanics exposes recoverPanics to tests.
var RecoverPanics = recoverPanics
