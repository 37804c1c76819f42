// Package alb verifies the user claims an AWS Application Load Balancer sends its
// targets after an authenticate-oidc or authenticate-cognito action: the
// x-amzn-oidc-data header, a JWT signed by the load balancer (Elastic Load
// Balancing User Guide, "Authenticate users using an Application Load
// Balancer",
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-authenticate-users.html).
//
// New is the entry point:
//
//	v, err := alb.New(alb.Config{
//		LoadBalancerARN: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188",
//		Issuer:          "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123",
//	})
//	mux.Handle("/app/", v.Require(app))
//	// in app: c := alb.ClaimsFrom(r.Context()); c.Subject, c.Username, c.Decode(&more)
//
// A header is checked in the verification core (internal/jwt, its ALB profile)
// in this order: one x-amzn-oidc-data header of at most MaxTokenBytes; a JWS
// compact serialization whose parts are base64url with the padding ALB adds
// (or without); typ absent or JWT; iss, the issuer of the IdP the listener
// rule names, byte for byte; the signer header, the configured load
// balancer's ARN, and the client header when ClientID is set ("ALBeast": any
// AWS account's load balancer signs with the same regional keys, so a token
// from another account's load balancer verifies unless signer is pinned);
// alg ES256; the signature with the public key the kid names, fetched from
// the configured region's endpoint only, never from a region or host a token
// names; exp within ClockSkew; sub. Nothing before the signer check makes a
// request to the key endpoint.
//
// The key endpoint serves one PEM public key per kid:
// https://public-keys.auth.elb.<region>.amazonaws.com/<kid> in the aws
// partition, https://public-keys.auth.elb.<region>.amazonaws.com.cn/<kid> in
// aws-cn, and https://s3-<region>.amazonaws.com/aws-elb-public-keys-prod-<region>/<kid>
// in aws-us-gov (AWS GovCloud (US)). The partition and region come from the
// load balancer's ARN. A kid is used only when it is 1 to 128 characters of
// letters, digits, "-" and "_" (ALB's are UUIDs), so no path or query
// character of a request reaches the URL. Keys are cached (a bounded number);
// kids that are not cached cost at most one fetch at a time, and none within
// RefetchInterval after a failed one.
//
// The x-amzn-oidc-identity header (sub, unsigned) is never read. The
// x-amzn-oidc-accesstoken header (the IdP's access token, unsigned by the load
// balancer) is verified only when Config.AccessToken is set, by that
// bearer.Verifier; its subject must be the data header's, and Require's
// bearer.Requirements (Scopes, Groups, Check) apply to it.
//
// Only the load balancer should reach the targets: its security group is what
// keeps a client from sending these headers itself. The signature, signer
// and iss checks make a forged header fail anyway.
//
// Package alb imports authflow/bearer, never the login package authflow.
package alb
