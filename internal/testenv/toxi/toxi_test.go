package toxi

import (
	"bufio"
	"errors"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// echo serves lines back on loopback and counts the lines it received.
func echo(t *testing.T) (addr string, got *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	got = new(atomic.Int64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					got.Add(1)
					if _, err := c.Write([]byte(line)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), got
}

func roundTrip(addr string, wait time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(wait))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "ping\n" {
		return errors.New("echoed " + line)
	}
	return nil
}

func TestFaults(t *testing.T) {
	up, got := echo(t)
	p, err := New("echo", up)
	require.NoError(t, err)
	t.Cleanup(p.Close)
	require.NoError(t, roundTrip(p.Addr, 5*time.Second), "a healthy proxy passes data")

	t.Run("latency", func(t *testing.T) {
		require.NoError(t, p.Inject(Latency(200*time.Millisecond)))
		start := time.Now()
		require.NoError(t, roundTrip(p.Addr, 10*time.Second))
		require.GreaterOrEqual(t, time.Since(start), 400*time.Millisecond, "200ms each way")
		require.NoError(t, p.Heal())
	})
	t.Run("blackhole", func(t *testing.T) {
		require.NoError(t, p.Inject(Blackhole()))
		before := got.Load()
		err := roundTrip(p.Addr, 300*time.Millisecond)
		require.ErrorIs(t, err, os.ErrDeadlineExceeded, "connected, then nothing")
		require.Equal(t, before, got.Load(), "nothing reached the peer")
		require.NoError(t, p.Heal())
		require.NoError(t, roundTrip(p.Addr, 5*time.Second), "healed")
	})
	t.Run("reset mid-response", func(t *testing.T) {
		require.NoError(t, p.Inject(ResetResponse()))
		before := got.Load()
		err := roundTrip(p.Addr, 5*time.Second)
		require.Error(t, err)
		require.NotErrorIs(t, err, os.ErrDeadlineExceeded, "reset, not left hanging")
		require.Equal(t, before+1, got.Load(), "the request reached the peer")
		require.NoError(t, p.Heal())
		require.NoError(t, roundTrip(p.Addr, 5*time.Second), "healed")
	})
	t.Run("down", func(t *testing.T) {
		require.NoError(t, p.Inject(Down()))
		_, err := net.DialTimeout("tcp", p.Addr, time.Second)
		require.Error(t, err, "refused while down")
		require.NoError(t, p.Heal())
		require.NoError(t, roundTrip(p.Addr, 5*time.Second), "listening again on the same address")
	})
}
