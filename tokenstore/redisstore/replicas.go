package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultWaitTimeout is how long a write waits for replicas when
// Options.WaitReplicas is set and Options.WaitTimeout is not.
const DefaultWaitTimeout = 500 * time.Millisecond

// ErrNotReplicated is returned (wrapped, with the operation) by a write that
// the master applied but fewer than Options.WaitReplicas replicas
// acknowledged within Options.WaitTimeout. The write stays on the master; a
// failover before the replicas catch up loses it. A lease granted by such an
// Acquire is released before Acquire returns.
var ErrNotReplicated = errors.New("redisstore: write not acknowledged by enough replicas")

// commander is what a write is queued on: the client, or a pipeline.
type commander interface {
	redis.Cmdable
	Do(ctx context.Context, args ...any) *redis.Cmd
}

// run sends the write queue builds (one command on c) to the master that owns
// key and, with WaitReplicas, WAIT numreplicas timeout right after it on the
// same connection (one pipeline, one round trip plus the replicas' ack).
// cmd is the write's reply; werr is the WAIT's failure (ErrNotReplicated, or
// the connection's error), which callers weigh only when something was
// written. A script's queue gets eval true when the server answered NOSCRIPT
// to its EVALSHA (a new master after a failover, or a SCRIPT FLUSH), and is
// sent again as EVAL.
func (s *Store) run(ctx context.Context, key string, queue func(c commander, eval bool) redis.Cmder) (cmd redis.Cmder, werr error) {
	if s.waitReplicas == 0 {
		cmd = queue(s.client, false)
		if isNoScript(cmd.Err()) {
			cmd = queue(s.client, true)
		}
		return cmd, nil
	}
	var pipe redis.Pipeliner
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		// A cluster pipeline routes a keyless WAIT to any node: send both to
		// the master of key's slot.
		m, err := cc.MasterForKey(ctx, key)
		if err != nil {
			return redis.NewStatusResult("", err), nil
		}
		pipe = m.Pipeline()
	} else {
		pipe = s.client.Pipeline()
	}
	send := func(eval bool) (redis.Cmder, *redis.Cmd) {
		cmd := queue(pipe, eval)
		wait := pipe.Do(ctx, "WAIT", s.waitReplicas, s.waitTimeout.Milliseconds())
		_, _ = pipe.Exec(ctx) // each reply carries its own error
		return cmd, wait
	}
	cmd, wait := send(false)
	if isNoScript(cmd.Err()) {
		cmd, wait = send(true)
	}
	acks, err := wait.Int64()
	switch {
	case err != nil:
		return cmd, fmt.Errorf("WAIT %d: %w", s.waitReplicas, err)
	case acks < int64(s.waitReplicas):
		return cmd, fmt.Errorf("%w: %d of %d within %v", ErrNotReplicated, acks, s.waitReplicas, s.waitTimeout)
	}
	return cmd, nil
}

// script runs sc through run: EVALSHA, or EVAL when the server lacks it.
func (s *Store) script(ctx context.Context, sc *redis.Script, keys []string, args ...any) (*redis.Cmd, error) {
	cmd, werr := s.run(ctx, keys[0], func(c commander, eval bool) redis.Cmder {
		if eval {
			return sc.Eval(ctx, c, keys, args...)
		}
		return sc.EvalSha(ctx, c, keys, args...)
	})
	if c, ok := cmd.(*redis.Cmd); ok {
		return c, werr
	}
	return redis.NewCmdResult(nil, cmd.Err()), werr
}

func isNoScript(err error) bool {
	return err != nil && (errors.Is(err, redis.ErrNoScript) || redis.HasErrorPrefix(err, "NOSCRIPT"))
}
