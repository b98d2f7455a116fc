// Package sms holds the senders of text messages that carry one-time
// codes. Log is the development sender: it records that a message went
// out, without its text unless asked to.
package sms

import (
	"context"
	"log/slog"
	"unicode/utf8"
)

// Log writes text messages to a logger instead of sending them. The text
// holds a one-time code, so it is logged only with RevealText, which is
// for development alone.
type Log struct {
	Logger     *slog.Logger
	RevealText bool
}

// SendSMS logs that a message to to was sent: the number's last two
// digits and the text's length, or the whole message with RevealText.
func (l Log) SendSMS(ctx context.Context, to, text string) error {
	if l.RevealText {
		l.Logger.InfoContext(ctx, "sms sent (development: text shown)", "to", to, "text", text)
		return nil
	}
	l.Logger.InfoContext(ctx, "sms sent", "to", mask(to), "chars", utf8.RuneCountInString(text))
	return nil
}

// mask keeps the last two characters of a number.
func mask(to string) string {
	if len(to) <= 2 {
		return "**"
	}
	return "…" + to[len(to)-2:]
}
