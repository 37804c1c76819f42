package awscreds

import (
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
)

// ErrIDTokenRejected is returned, wrapped together with the AWS error, when AWS refuses the
// user's token even after one retry with a fresh one from the IDTokenFunc (or LoginsFunc):
// STS ExpiredTokenException or InvalidIdentityToken, or Cognito's NotAuthorizedException for
// an authenticated identity. The user's session can't yield credentials: sign them in again.
// Test it with errors.Is.
var ErrIDTokenRejected = errors.New("awscreds: ID token rejected")

// ErrConfiguration is returned, wrapped together with the cause, when the provider's setup is
// wrong and no retry or fresh token can help: a missing client or pool id, an issuer that is
// not a Cognito user pool, Cognito's ResourceNotFoundException (no such identity pool),
// InvalidIdentityPoolConfigurationException (the pool's roles or trust are wrong),
// InvalidParameterException, LimitExceededException (a quota on identities, not the request
// rate), ResourceConflictException or DeveloperUserAlreadyRegisteredException, STS
// refusing the role or the session policy (AccessDenied, MalformedPolicyDocument,
// PackedPolicyTooLarge, RegionDisabledException: AssumeRole, and the basic flow), or
// NotAuthorizedException for a guest (the pool allows no unauthenticated identities) or a
// developer-authenticated call. Report it to the operator, not the user. Test it with
// errors.Is.
var ErrConfiguration = errors.New("awscreds: configuration error")

// idTokenRejected reports whether err is STS refusing the web identity token itself, as
// opposed to the role, the policy or the service. The typed exceptions are what the sts
// client returns; the codes catch other clients and STS-compatible servers (MinIO answers an
// expired web identity token with "ExpiredToken", and a token it can't verify with
// InvalidParameterValue, which is not matched because it also means a bad parameter).
func idTokenRejected(err error) bool {
	var expired *types.ExpiredTokenException
	var invalid *types.InvalidIdentityTokenException
	if errors.As(err, &expired) || errors.As(err, &invalid) {
		return true
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "ExpiredToken", "ExpiredTokenException", "InvalidIdentityToken", "InvalidIdentityTokenException":
		return true
	}
	return false
}

// awsError carries its causes for errors.Is and errors.As, under a message from which the
// ID tokens have been removed: an AWS-compatible server may echo what it was sent.
type awsError struct {
	msg  string
	errs []error
	// transient marks a failure of AWS or the network that is neither a rejected token nor a
	// configuration error: one a cache may ride out with the last credentials.
	transient bool
}

func (e *awsError) Error() string   { return e.msg }
func (e *awsError) Unwrap() []error { return e.errs }

// redactedTokenSegment is the shortest token segment that redact removes on its own; JWS
// headers, payloads and signatures are all longer.
const redactedTokenSegment = 16

// redact removes every token, and every long dot-separated part of one, from msg.
func redact(msg string, tokens ...string) string {
	for _, t := range tokens {
		if t == "" {
			continue
		}
		msg = strings.ReplaceAll(msg, t, "[ID token]")
		for part := range strings.SplitSeq(t, ".") {
			if len(part) >= redactedTokenSegment {
				msg = strings.ReplaceAll(msg, part, "[redacted]")
			}
		}
	}
	return msg
}
