package awscreds

import (
	"errors"
	"maps"
	"strings"

	"github.com/aws/smithy-go"
)

// ErrIDTokenRejected is returned, wrapped together with the AWS error, when AWS refuses the
// user's token even after one retry with a fresh one from the IDTokenFunc (or LoginsFunc): the
// user's session can't yield credentials, so sign them in again. The package documentation's
// Errors section lists the AWS errors of this class. Test it with errors.Is.
var ErrIDTokenRejected = errors.New("awscreds: ID token rejected")

// ErrConfiguration is returned, wrapped together with the cause, when the provider's setup is
// wrong and no retry or fresh token can help: invalid options (reported by every Retrieve of
// a provider built with them), an issuer that is not a Cognito user pool, or an AWS error of
// the configuration class (the package documentation's Errors section lists them). Report it
// to the operator, not the user. Test it with errors.Is.
var ErrConfiguration = errors.New("awscreds: configuration error")

// errClass is how a provider treats an AWS error; the package documentation's Errors section
// says what each class does and which codes are in it.
type errClass uint8

const (
	// transient is a fault that may pass: ridden out under aws.CredentialsCache. It is the
	// zero value, so it is the class of every code an operation's table does not name, of an
	// error that is no AWS answer at all (a timeout, a refused connection), and of a
	// malformed response.
	transient errClass = iota
	// configuration is ErrConfiguration at once.
	configuration
	// rejected is the user's token refused: one retry with a fresh token, then
	// ErrIDTokenRejected.
	rejected
	// staleIdentity is configuration, except on a call that sent an identity id from the
	// cache: the identity may have been deleted or merged since, so it gets one retry with
	// the identity id asked of Cognito again.
	staleIdentity
)

// errorTable sorts one AWS operation's error codes. Codes are compared without a trailing
// "Exception": the SDK's typed exceptions and AWS's JSON protocols add it to some codes, the
// Query protocol and STS-compatible servers (MinIO: "ExpiredToken") leave it off.
type errorTable map[string]errClass

func (t errorTable) class(code string) errClass {
	return t[strings.TrimSuffix(code, "Exception")]
}

// with returns t with more's entries added or replaced.
func (t errorTable) with(more errorTable) errorTable {
	out := maps.Clone(t)
	maps.Copy(out, more)
	return out
}

// The errors that every Cognito identity operation below lists in its API reference
// (https://docs.aws.amazon.com/cognitoidentity/latest/APIReference/CommonErrors.html and each
// operation's page), and InvalidIdentityPoolConfiguration, which only
// GetCredentialsForIdentity lists, sorted alike wherever Cognito sends it.
var cognitoErrors = errorTable{
	"NotAuthorized":                    rejected,
	"ResourceNotFound":                 staleIdentity,
	"ResourceConflict":                 staleIdentity, // the login is linked to another identity
	"InvalidParameter":                 configuration,
	"InvalidIdentityPoolConfiguration": configuration, // the pool's roles or their trust
	"TooManyRequests":                  transient,     // the request-rate quota
	"InternalError":                    transient,
	"ExternalService":                  transient, // a login provider not answering Cognito
}

// The errors of every STS operation below: the common errors of AWS's Query APIs
// (https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html) that a retry can't
// change, and the three that both AssumeRole and AssumeRoleWithWebIdentity list.
var stsErrors = errorTable{
	"AccessDenied":            configuration, // the role's trust policy, or a missing sts:TagSession
	"ValidationError":         configuration,
	"InvalidParameterValue":   configuration, // MinIO also answers a token it can't verify so
	"MissingParameter":        configuration,
	"MalformedPolicyDocument": configuration,
	"PackedPolicyTooLarge":    configuration,
	"RegionDisabled":          configuration,
	"Throttling":              transient,
	"RequestLimitExceeded":    transient,
	"ServiceUnavailable":      transient,
	"InternalFailure":         transient,
}

// operation is one AWS operation a provider calls, with the table that sorts its errors.
type operation struct {
	name  string
	table errorTable
}

// The operations, one table each. A code is in the same class wherever the same operation
// is called.
var (
	// https://docs.aws.amazon.com/cognitoidentity/latest/APIReference/API_GetId.html. GetId
	// takes no identity id, so a missing or conflicting resource is the setup's.
	opGetID = operation{"GetId", cognitoErrors.with(errorTable{
		"ResourceNotFound": configuration,
		"ResourceConflict": configuration,
		"LimitExceeded":    configuration, // a quota on identities or pools, not a rate: it lasts
	})}
	// https://docs.aws.amazon.com/cognitoidentity/latest/APIReference/API_GetCredentialsForIdentity.html
	opGetCredentialsForIdentity = operation{"GetCredentialsForIdentity", cognitoErrors}
	// https://docs.aws.amazon.com/cognitoidentity/latest/APIReference/API_GetOpenIdToken.html
	opGetOpenIDToken = operation{"GetOpenIdToken", cognitoErrors}
	// https://docs.aws.amazon.com/cognitoidentity/latest/APIReference/API_GetOpenIdTokenForDeveloperIdentity.html
	opGetOpenIDTokenForDeveloperIdentity = operation{"GetOpenIdTokenForDeveloperIdentity", cognitoErrors.with(errorTable{
		"DeveloperUserAlreadyRegistered": staleIdentity, // the developer user is another identity's
	})}
	// https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html
	opAssumeRoleWithWebIdentity = operation{"AssumeRoleWithWebIdentity", stsErrors.with(errorTable{
		"ExpiredToken":          rejected,
		"InvalidIdentityToken":  rejected,
		"IDPRejectedClaim":      rejected, // the IdP refused the claims: expired or revoked
		"IDPCommunicationError": transient,
	})}
	// https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html. No user token
	// is sent: ExpiredToken is about the server's own session, which its provider renews.
	opAssumeRole = operation{"AssumeRole", stsErrors.with(errorTable{
		"ExpiredToken": transient,
	})}
)

// failed tags err, returned by a call to op, with its class.
func (op operation) failed(err error) error {
	class := transient
	var ae smithy.APIError
	if errors.As(err, &ae) {
		class = op.table.class(ae.ErrorCode())
	}
	return &opError{op: op.name, class: class, err: err}
}

// badResponse is op answering without what it must return: transient, as a fault of the
// service.
func (op operation) badResponse(what string) error {
	return &opError{op: op.name, class: transient, err: errors.New(op.name + " response " + what)}
}

// opError is the failure of one AWS call, sorted where the call returned.
type opError struct {
	op    string
	class errClass
	err   error
}

func (e *opError) Error() string { return e.err.Error() }
func (e *opError) Unwrap() error { return e.err }

// classOf is the class of a failed AWS call in err's chain; transient when there is none.
func classOf(err error) errClass {
	var oe *opError
	if errors.As(err, &oe) {
		return oe.class
	}
	return transient
}

// providerError turns the last failure of a retrieval into the provider's error: prefixed
// with the provider's name, wrapping ErrIDTokenRejected or ErrConfiguration as the class
// says, marked for the ride-out when transient, with every token redacted. An error that is
// no failed AWS call (the IDTokenFunc's, a token that can't be read) is returned as it is:
// it is already prefixed and holds no token.
func providerError(provider string, err error, tokens ...string) error {
	var oe *opError
	if !errors.As(err, &oe) {
		return err
	}
	prefix := "awscreds: " + provider + ": "
	switch oe.class {
	case rejected:
		return &awsError{msg: redact(prefix+oe.op+" rejected the token: "+err.Error(), tokens...), errs: []error{ErrIDTokenRejected, err}}
	case configuration, staleIdentity:
		return configurationError(prefix, "", err, tokens...)
	}
	return &awsError{msg: redact(prefix+err.Error(), tokens...), errs: []error{err}, transient: true}
}

// configurationError is err as ErrConfiguration, under prefix, with why (if any) in front of
// err's message.
func configurationError(prefix, why string, err error, tokens ...string) error {
	return &awsError{msg: redact(prefix+"configuration error: "+why+err.Error(), tokens...), errs: []error{ErrConfiguration, err}}
}

// refetchFailed is the error of a retrieval whose token AWS rejected (err) and whose fresh
// token could not be had (ferr).
func refetchFailed(provider string, err, ferr error, tokens ...string) error {
	return &awsError{
		msg:  redact("awscreds: "+provider+": AWS rejected the token ("+err.Error()+") and getting another failed: "+ferr.Error(), tokens...),
		errs: []error{ErrIDTokenRejected, err, ferr},
	}
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
