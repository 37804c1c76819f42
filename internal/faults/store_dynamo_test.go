package faults

import (
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/require"

	"github.com/pubauth/awsauth/internal/testenv"
	"github.com/pubauth/awsauth/tokenstore"
	"github.com/pubauth/awsauth/tokenstore/dynamostore"
)

// dynamoKit: dynalite on a kept data directory, and dynamostore on the
// SDK's dynamodb client with its standard retryer.
func dynamoKit(t *testing.T) *storeKit {
	dir := t.TempDir()
	d, err := testenv.StartDynamoDBAt(t.Context(), dir)
	require.NoError(t, err)
	t.Cleanup(func() { d.Stop() })
	require.NoError(t, d.CreateTable(t.Context(), dynamostore.TableDefinition("sessions", "")))
	return &storeKit{
		name:     "dynamo",
		upstream: func() string { return d.Endpoint[len("http://"):] },
		open: func(t *testing.T, addr string) (tokenstore.Store, func()) {
			tr := &http.Transport{}
			c := d.Client(func(o *dynamodb.Options) {
				o.BaseEndpoint = aws.String("http://" + addr)
				o.HTTPClient = &http.Client{Transport: tr}
			})
			s, err := dynamostore.New(c, "sessions")
			require.NoError(t, err)
			return s, tr.CloseIdleConnections
		},
		stop: func(t *testing.T) { require.NoError(t, d.Stop()) },
		start: func(t *testing.T) {
			d, err = testenv.StartDynamoDBAt(t.Context(), dir)
			require.NoError(t, err)
		},
	}
}
