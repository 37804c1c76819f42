package authflow

import (
	"log/slog"

	"github.com/pubauth/awsauth/internal/httpx"
)

// slogErr logs an error's text. Errors made by this package never hold a
// token, code, secret or cookie value, so their text is safe to log.
func slogErr(err error) slog.Attr { return slog.String("error", err.Error()) }

// levelFor logs client mistakes quietly and our own or a peer's faults
// loudly; the rule is shared with authflow/bearer.
func levelFor(status int) slog.Level { return httpx.LevelFor(status) }
