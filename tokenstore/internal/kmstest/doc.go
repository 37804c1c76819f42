// Package kmstest holds tokenstore's tests of NewEnvelopeEncrypted against a real KMS
// protocol: moto server's KMS (internal/testenv.StartMoto; scripts/deps.d/moto.sh installs it,
// and a missing install fails them), through aws-sdk-go-v2's kms client. They are apart from
// tokenstore's own tests, which stay light (no peer, no testenv; see
// internal/testenv.TestStoreTestsStayLight).
//
// Moto 5.2.5 records DisableKey (DescribeKey then says KeyState Disabled) but still answers
// GenerateDataKey and Decrypt under a disabled key: its KMS checks no key state. AWS KMS
// refuses both with DisabledException. The disabled-key tests therefore put keyStateProxy in
// front of moto, which adds exactly that rule, and TestMotoIgnoresKeyState says when a newer
// moto makes it unnecessary.
package kmstest
