package tokenstore_test

import (
	"testing"

	"go.opentelemetry.io/otel/sdk/metric"

	"github.com/pubauth/awsauth/tokenstore"
	"github.com/pubauth/awsauth/tokenstore/storetest"
)

// An instrumented store keeps its inner store's abilities, Locker and Indexer, and passes the
// conformance suite (its Locker and Indexer sections included).
func TestInstrumentConformance(t *testing.T) {
	mp := metric.NewMeterProvider(metric.WithReader(metric.NewManualReader()))
	s := tokenstore.Instrument(tokenstore.NewMemory(), mp)
	if _, ok := s.(tokenstore.Locker); !ok {
		t.Fatal("the instrumented memory store is no Locker")
	}
	if _, ok := s.(tokenstore.Indexer); !ok {
		t.Fatal("the instrumented memory store is no Indexer")
	}
	storetest.Run(t, func(t *testing.T) tokenstore.Store { return s })
	plain := tokenstore.Instrument(struct{ tokenstore.Store }{tokenstore.NewMemory()}, mp)
	if _, ok := plain.(tokenstore.Indexer); ok {
		t.Fatal("an instrumented store without Indexer claims to be one")
	}
}
