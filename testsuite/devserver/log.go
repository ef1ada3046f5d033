package devserver

import (
	"context"
	"log/slog"
	"os"
	"sync/atomic"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// serverLog is the Temporal server's logger writing to a slog.Logger, so its
// lines read like the worker's. It drops lines below min, and every line
// while the server starts or stops: then the server only reports its own
// parts coming and going ("Frontend is not healthy yet"); a start that
// fails says why in Start's error.
type serverLog struct {
	to    *slog.Logger
	min   slog.Level
	quiet *atomic.Bool
}

var _ log.Logger = serverLog{}

func (s serverLog) log(level slog.Level, msg string, tags []tag.Tag) {
	if level < s.min || s.quiet.Load() {
		return
	}
	attrs := make([]any, 0, len(tags))
	for _, t := range tags {
		attrs = append(attrs, slog.Any(t.Key(), t.Value()))
	}
	s.to.Log(context.Background(), level, msg, attrs...)
}

func (s serverLog) Debug(msg string, tags ...tag.Tag) { s.log(slog.LevelDebug, msg, tags) }
func (s serverLog) Info(msg string, tags ...tag.Tag)  { s.log(slog.LevelInfo, msg, tags) }
func (s serverLog) Warn(msg string, tags ...tag.Tag)  { s.log(slog.LevelWarn, msg, tags) }
func (s serverLog) Error(msg string, tags ...tag.Tag) { s.log(slog.LevelError, msg, tags) }

func (s serverLog) DPanic(msg string, tags ...tag.Tag) { s.log(slog.LevelError, msg, tags) }

func (s serverLog) Panic(msg string, tags ...tag.Tag) {
	s.log(slog.LevelError, msg, tags)
	panic(msg)
}

func (s serverLog) Fatal(msg string, tags ...tag.Tag) {
	s.log(slog.LevelError, msg, tags)
	os.Exit(1)
}
