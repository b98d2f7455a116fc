// Package identifier normalizes the identifiers that find an account: e-mail
// addresses, phone numbers, usernames, wallets and ENS names.
//
// An identifier is unique per (type, normalized value), and a database unique
// index on the normalized value enforces it. Normalization is therefore the
// security boundary against duplicate accounts: two inputs that a person would
// read as the same identifier must normalize to the same value, or one of them
// must be refused. Normalize never returns two different accepted values for
// inputs that differ only by case, width, Unicode normal form, invisible
// characters or surrounding spaces.
//
// # Rules for every type
//
//   - The raw value is at most MaxInput (1024) bytes; longer input is refused
//     before any other work.
//   - The value must be valid UTF-8.
//   - For e-mail, phone and username, every Default_Ignorable_Code_Point
//     (zero-width space, zero-width joiner and non-joiner, soft hyphen, byte
//     order mark, word joiner, Mongolian vowel separator, bidirectional
//     controls, variation selectors, Hangul fillers, combining grapheme
//     joiner, tag characters, and the rest of the Unicode class) is removed
//     first. Removing rather than refusing them means a pasted address with a
//     stray zero-width space finds the same account instead of failing, and a
//     variant can never become a second account. The price is that the few
//     internationalized domain names that need a zero-width joiner or
//     non-joiner (in Persian or Indic scripts) cannot be registered as
//     written. Wallet and ENS values are passed to their own normalizers
//     untouched by this step, since ENSIP-15 gives the zero-width joiner a
//     meaning inside emoji sequences.
//   - Surrounding white space (Unicode White_Space, which includes tab, CR and
//     LF) is trimmed.
//   - A control character (Unicode category Cc) left anywhere in the value is
//     refused.
//   - The result is checked to be stable: normalizing it again must give it
//     back unchanged, or the value is refused. So Normalize is idempotent for
//     every type, including plugged-in ones.
//
// The canonical forms of e-mail addresses, phone numbers and usernames are
// ASCII.
//
// Errors are fault.Invalid with one fault.Violation on field "value" (or
// "type" for an unknown or unsupported type); an error from a plugged-in
// normalizer keeps its kind. Messages say what is wrong and never repeat the
// value, which is personal data.
//
// # E-mail
//
//   - The value is put in Unicode NFKC form (so a fullwidth "＠" is an "@"),
//     then split at its last "@" into a local part and a domain.
//   - The domain is converted with IDNA (UTS #46, the golang.org/x/net/idna
//     Lookup profile, non-transitional) to its ASCII form, lower case: a
//     U-label domain and its A-label ("bücher.de", "xn--bcher-kva.de") are the
//     same domain. The domain must have at least two labels, each 1 to 63
//     bytes, 253 bytes in all, of letters, digits and inner hyphens, with a
//     top-level label that is not all digits. IP-address literals and a
//     trailing root dot are refused.
//   - The local part is case-folded (full Unicode case folding, so "ß" is
//     "ss") and put in NFKC form again. RFC 5321 lets a server treat the local
//     part as case-sensitive, but real providers do not, and folding is the
//     safe choice for uniqueness: "Alice@x.org" and "alice@x.org" are one
//     account.
//   - After folding, the local part must be an RFC 5322 dot-atom of ASCII
//     characters: letters, digits and !#$%&'*+-/=?^_`{|}~, with dots only
//     between characters, 1 to 64 bytes. Quoted local parts, comments,
//     spaces, angle brackets, commas, semicolons, CR and LF are refused, so an
//     accepted address can never inject an SMTP command or a mail header.
//     Internationalized local parts (RFC 6531) are refused: NFKC and case
//     folding cannot merge lookalike letters (Cyrillic "а" and Latin "a",
//     dotless "ı" and "i"), so accepting them would allow visually identical
//     second accounts. Non-ASCII input that folds to ASCII (fullwidth letters,
//     "ß", the Kelvin sign) is accepted in its folded form.
//   - No provider-specific rewriting: "a+b@x.org", "a.b@x.org" and "ab@x.org"
//     are three different addresses, because only the provider knows whether
//     they reach the same mailbox.
//   - The whole address is at most 254 bytes.
//   - The canonical form is local + "@" + ASCII domain.
//
// An internationalized domain is a DNS name of its own: a lookalike domain in
// another script is a different domain with a different owner, so it is a
// different address, not a variant of one.
//
// # Phone
//
//   - The value is put in NFKC form (fullwidth digits and "＋" become ASCII).
//   - It must be international: it starts with "+" and a country code. There
//     is no default region, because guessing one would make the same digits
//     mean different numbers for different callers. "00" and other dialling
//     prefixes are refused.
//   - After the "+" only decimal digits (of any script) and the separators
//     space, "-", ".", "(", ")" and "/" are allowed. Letters are refused, so
//     vanity numbers ("+1 800 FLOWERS") and extensions ("ext. 12") are not
//     accepted: neither is part of an E.164 number.
//   - The number is parsed with github.com/nyaruka/phonenumbers (a port of
//     libphonenumber) and must be a valid number (IsValidNumber), not merely
//     a possible one: a phone identifier exists to receive a code, and the
//     numbering plan says which numbers can. A national trunk prefix written
//     after the country code ("+44 (0)20 …") is dropped, as dialling does.
//   - The canonical form is E.164: "+" and at most 15 digits, such as
//     "+14155552671". Updating the numbering-plan data can make a refused
//     number valid; it never changes the canonical form of an accepted one.
//
// # Username
//
//   - The value is put in NFKC form, case-folded and put in NFKC form again.
//   - The result must use only the ASCII alphabet a-z, 0-9 and the separators
//     "_", "-" and ".": 3 to 32 characters, starting and ending with a letter
//     or digit, never two separators in a row. Because the result is ASCII,
//     cross-script homoglyphs (Cyrillic "а", Greek "ο", dotless "ı") are
//     refused rather than folded, and no two accepted usernames differ only by
//     a lookalike character outside ASCII.
//   - A username may not look like another identifier type or an account ID,
//     so that it can never be taken for someone's e-mail, phone, wallet or
//     ENS name: "@" and "+" are outside the alphabet, and a username may not
//     be "0x" followed by hexadecimal digits only, may not end in ".eth", and
//     may not have the shape of an account ID (a prefix, "_" and 26 base32
//     characters).
//
// Within ASCII a few lookalikes remain ("rn" and "m", "1" and "l", "0" and
// "o"). They are different usernames; Skeleton maps them to one value so the
// store can refuse or flag a lookalike of an existing username.
//
// # Wallet and ENS
//
// This package does not implement them. Their rules (CAIP-10 with EIP-55
// addresses, ENSIP-15 names) belong to the Ethereum package, which supplies
// them as the Wallet and ENS fields of Normalizers. The package-level
// Normalize, and a Normalizers without them, refuse both types with
// "identifier type not supported yet". A plugged-in normalizer receives the
// value after the common length, UTF-8, trimming and control-character
// checks, and its result is held to the same stability check.
package identifier
