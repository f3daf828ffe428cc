package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"berth.dev/berth/internal/agent/runtime"
	"berth.dev/berth/internal/agent/stream"
)

// The methods below back the node's streaming server (stream.Config's
// Lookup, Exec, Attach, LogPaths and DialPod) with the pods the agent
// runs.

// Lookup finds a container of a pod bound to the node (the pod itself
// when container is ""), or returns stream.ErrNotFound.
func (a *Agent) Lookup(namespace, pod, container string) (stream.Container, error) {
	a.mu.Lock()
	l := a.lister
	a.mu.Unlock()
	if l == nil {
		return stream.Container{}, stream.ErrNotFound
	}
	p, err := l.Pods(namespace).Get(pod)
	if err != nil {
		return stream.Container{}, stream.ErrNotFound
	}
	out := stream.Container{PodUID: p.UID, Name: container}
	if container == "" {
		return out, nil
	}
	known := slices.ContainsFunc(p.Spec.Containers, func(c corev1.Container) bool { return c.Name == container }) ||
		slices.ContainsFunc(p.Spec.InitContainers, func(c corev1.Container) bool { return c.Name == container })
	if !known {
		return stream.Container{}, stream.ErrNotFound
	}
	latest, _, err := a.instances(context.Background(), p.UID, container)
	if err != nil {
		return stream.Container{}, err
	}
	if latest != nil {
		out.ID, out.Running = latest.ID, latest.State == runtime.StateRunning
	}
	return out, nil
}

// instances returns the latest instance of a pod's container on the node
// and the one before it; nil where there is none.
func (a *Agent) instances(ctx context.Context, uid types.UID, container string) (latest, previous *runtime.Container, err error) {
	all, err := a.containers.get(ctx)
	if err != nil {
		return nil, nil, err
	}
	for i := range all {
		c := &all[i]
		if c.Labels[labelPodUID] != string(uid) || c.Labels[labelContainer] != container {
			continue
		}
		switch {
		case latest == nil || attempt(c) > attempt(latest):
			latest, previous = c, latest
		case previous == nil || attempt(c) > attempt(previous):
			previous = c
		}
	}
	return latest, previous, nil
}

// Exec runs cmd in a running container.
func (a *Agent) Exec(ctx context.Context, c stream.Container, cmd []string, tty bool, s stream.Streams) (int, error) {
	if !c.Running {
		return 0, fmt.Errorf("container %s is not running", c.Name)
	}
	return a.cfg.Runtime.Exec(ctx, c.ID, runtime.ExecConfig{Args: cmd, TTY: tty}, runtimeStreams(ctx, s))
}

// Attach connects s to a running container's stdio.
func (a *Agent) Attach(ctx context.Context, c stream.Container, _ bool, s stream.Streams) error {
	if !c.Running {
		return fmt.Errorf("container %s is not running", c.Name)
	}
	return a.cfg.Runtime.Attach(ctx, c.ID, runtimeStreams(ctx, s))
}

// runtimeStreams maps the server's streams onto the runtime's.
func runtimeStreams(ctx context.Context, s stream.Streams) runtime.Streams {
	out := runtime.Streams{Stdin: s.Stdin, Stdout: s.Stdout, Stderr: s.Stderr}
	if s.Resize != nil {
		sizes := make(chan runtime.TermSize)
		go func() {
			defer close(sizes)
			for sz := range s.Resize {
				select {
				case sizes <- runtime.TermSize{Width: sz.Width, Height: sz.Height}:
				case <-ctx.Done():
					return
				}
			}
		}()
		out.Resize = sizes
	}
	return out
}

// LogPaths returns the log files of a container's latest instance and of
// its previous one, which the worker keeps per restart. As in kubelet, the
// previous instance is the one the pod's status names as the container's
// last termination: for a container waiting to be restarted
// (CrashLoopBackOff), the latest instance itself.
func (a *Agent) LogPaths(uid types.UID, container string) (current, previous string) {
	latest, before, err := a.instances(context.Background(), uid, container)
	if err != nil || latest == nil {
		return "", ""
	}
	ns, name := latest.Labels[labelPodNamespace], latest.Labels[labelPodName]
	dir := a.podLogDir(ns, name, uid)
	current = logFile(dir, container, attempt(latest))
	last := a.lastTerminated(ns, name, uid, container)
	for _, c := range []*runtime.Container{latest, before} {
		if c == nil || last != "runc://"+c.ID {
			continue
		}
		if p := logFile(dir, container, attempt(c)); fileExists(p) {
			previous = p
		}
	}
	return current, previous
}

// lastTerminated returns the container ID of a container's last
// termination in the status of the pod, as the informer has it; "" if
// there is none.
func (a *Agent) lastTerminated(namespace, name string, uid types.UID, container string) string {
	a.mu.Lock()
	l := a.lister
	a.mu.Unlock()
	if l == nil {
		return ""
	}
	p, err := l.Pods(namespace).Get(name)
	if err != nil || p.UID != uid {
		return ""
	}
	for _, s := range slices.Concat(p.Status.ContainerStatuses, p.Status.InitContainerStatuses) {
		if s.Name == container && s.LastTerminationState.Terminated != nil {
			return s.LastTerminationState.Terminated.ContainerID
		}
	}
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// DialPod connects to port on the loopback of a pod's network namespace.
func (a *Agent) DialPod(ctx context.Context, uid types.UID, port uint16) (net.Conn, error) {
	sb, err := a.cfg.Runtime.Sandbox(string(uid))
	if errors.Is(err, os.ErrNotExist) {
		return nil, stream.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return stream.DialInNetns(ctx, sb.NetNSPath(), port)
}
