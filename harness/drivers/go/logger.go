package main

// The SDK's logger (its backend.Logger interface, satisfied structurally): every record goes to
// stderr, WARNING and above also become `log` events (PROTOCOL.md §3).

import (
	"fmt"
	"os"
	"time"
)

type sdkLogger struct{ name string }

func (l *sdkLogger) write(level, msg string) {
	fmt.Fprintf(os.Stderr, "%s %s %s: %s\n", time.Now().Format("2006-01-02 15:04:05.000"), l.name, level, msg)
	if level == "WARNING" || level == "ERROR" {
		emit("log", map[string]any{"level": level, "logger": l.name, "message": msg})
	}
}

func (l *sdkLogger) Debug(v ...any)                 { l.write("DEBUG", fmt.Sprint(v...)) }
func (l *sdkLogger) Debugf(format string, v ...any) { l.write("DEBUG", fmt.Sprintf(format, v...)) }
func (l *sdkLogger) Info(v ...any)                  { l.write("INFO", fmt.Sprint(v...)) }
func (l *sdkLogger) Infof(format string, v ...any)  { l.write("INFO", fmt.Sprintf(format, v...)) }
func (l *sdkLogger) Warn(v ...any)                  { l.write("WARNING", fmt.Sprint(v...)) }
func (l *sdkLogger) Warnf(format string, v ...any)  { l.write("WARNING", fmt.Sprintf(format, v...)) }
func (l *sdkLogger) Error(v ...any)                 { l.write("ERROR", fmt.Sprint(v...)) }
func (l *sdkLogger) Errorf(format string, v ...any) { l.write("ERROR", fmt.Sprintf(format, v...)) }
