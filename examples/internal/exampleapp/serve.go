package exampleapp

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Main runs an example program: it parses the command line with parse (2 and
// the problems on stderr when it fails), then calls run until SIGINT or
// SIGTERM, and exits 1 when run fails.
func Main[C any](name string, parse func(args []string, getenv func(string) string) (C, error), run func(context.Context, C, *slog.Logger) error) {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg, err := parse(os.Args[1:], os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, logger); err != nil {
		logger.Error(name+" stopped", "error", err)
		os.Exit(1)
	}
}

// Serve serves h on ln until ctx ends, then shuts down gracefully within 5 s.
// It logs the URL it serves under name.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger, name string) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	logger.Info(name+" listening", "url", "http://"+ln.Addr().String())
	err := srv.Serve(ln)
	if !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	<-done // in-flight requests have finished, or the grace is over
	return nil
}
