package tokenstore_test

import (
	"context"
	"fmt"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/pubauth/awsauth/tokenstore"
)

// Instrument times every operation of a store in awsauth.store.operation.duration; here the
// application's MeterProvider is the OpenTelemetry SDK's with an in-memory reader.
func ExampleInstrument() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	store := tokenstore.Instrument(tokenstore.NewMemory(), mp)
	_, isLocker := store.(tokenstore.Locker)

	ctx := context.Background()
	store.Set(ctx, "k", []byte("v"), time.Now().Add(time.Minute))
	store.Get(ctx, "k")
	store.Get(ctx, "missing")

	var rm metricdata.ResourceMetrics
	reader.Collect(ctx, &rm)
	h := rm.ScopeMetrics[0].Metrics[0]
	var n uint64
	for _, p := range h.Data.(metricdata.Histogram[float64]).DataPoints {
		n += p.Count
	}
	fmt.Println(h.Name, h.Unit, n, "operations; a Locker still:", isLocker)
	// Output: awsauth.store.operation.duration s 3 operations; a Locker still: true
}
