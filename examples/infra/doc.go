// Package infra holds template.yaml, the AWS CloudFormation template that
// creates on real AWS what the awsauth examples need: a Cognito user pool
// with managed login and a public app client (authorization code + PKCE, no
// secret, scopes openid email profile orders/read), an identity pool with
// role mapping, least-privilege roles for the S3, DynamoDB and Glue
// examples, and the bucket, table and Glue database they use. Its Outputs
// are the examples' settings; README.md has the deploy steps.
//
// The package has no code: its tests lint the template with cfn-lint (the
// version scripts/deps.d/cfnlint.sh pins, or $AWSAUTH_CFNLINT) and check its
// IAM statements for least privilege.
package infra
