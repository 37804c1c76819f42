// Package miniotest holds awscreds' tests against a MinIO server (internal/testenv/minio;
// scripts/deps.sh installs it, and a missing install fails them), apart from the package's
// own tests so that those need no peer. MinIO verifies AWS Signature Version 4 as S3 does:
// these tests show SigV4Transport's requests accepted, and the same requests altered after
// signing refused.
package miniotest
