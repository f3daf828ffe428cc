package app

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"berth.dev/berth/internal/audit"
)

// auditOptions are the audit flags of `berth server`, upstream's names.
type auditOptions struct {
	policyFile string
	// logPath: empty means <data-dir>/audit/audit.log unless logPathSet,
	// which makes an empty path turn the log off; "-" is stdout.
	logPath        string
	logPathSet     bool
	logMaxSizeMB   int
	logMaxAgeDays  int
	logMaxBackups  int
	webhookConfig  string
	webhookBackoff time.Duration
}

// auditing is the running audit machinery of a server.
type auditing struct {
	auditor *audit.Auditor // nil when nothing is recorded
	log     *audit.LogSink
	webhook *audit.WebhookSink
	wg      sync.WaitGroup
}

// startAudit builds the auditor the flags describe and starts the webhook
// sender, which runs until ctx ends; stop waits for it and closes the log.
func startAudit(ctx context.Context, o auditOptions, dataDir string, log *slog.Logger) (*auditing, error) {
	a := &auditing{}
	policy := audit.DefaultPolicy()
	if o.policyFile != "" {
		p, err := audit.LoadPolicy(o.policyFile)
		if err != nil {
			return nil, err
		}
		policy = p
	}
	if o.logMaxSizeMB < 0 || o.logMaxAgeDays < 0 || o.logMaxBackups < 0 {
		return nil, errors.New("--audit-log-maxsize, --audit-log-maxage and --audit-log-maxbackup must not be negative")
	}
	path := o.logPath
	if path == "" && !o.logPathSet {
		path = filepath.Join(dataDir, "audit", "audit.log")
	}
	var sinks []audit.Sink
	if path != "" {
		ls, err := audit.NewLogSink(audit.LogConfig{
			Path:       path,
			MaxSize:    int64(o.logMaxSizeMB) << 20,
			MaxAge:     time.Duration(o.logMaxAgeDays) * 24 * time.Hour,
			MaxBackups: o.logMaxBackups,
			Logger:     log,
		})
		if err != nil {
			return nil, err
		}
		a.log = ls
		sinks = append(sinks, ls)
	}
	if o.webhookConfig != "" {
		ws, err := audit.NewWebhookSink(audit.WebhookConfig{Kubeconfig: o.webhookConfig, InitialBackoff: o.webhookBackoff, Logger: log})
		if err != nil {
			a.stop()
			return nil, err
		}
		a.webhook = ws
		sinks = append(sinks, ws)
		a.wg.Go(func() { _ = ws.Run(ctx) })
	}
	if len(sinks) > 0 {
		a.auditor = audit.New(audit.Config{Policy: policy, Sinks: sinks, Logger: log})
	}
	log.Info("audit configured", "log", path, "webhook", o.webhookConfig, "policy", policyName(o.policyFile))
	return a, nil
}

func policyName(file string) string {
	if file == "" {
		return "default"
	}
	return file
}

// stop waits for the webhook sender (its context must have ended) and
// closes the log file.
func (a *auditing) stop() {
	a.wg.Wait()
	if a.log != nil {
		_ = a.log.Close()
	}
}
