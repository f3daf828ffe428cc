package env

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
)

// Config configures a Resolver.
type Config struct {
	// Client reads ConfigMaps and Secrets with the node's identity. Required.
	Client kubernetes.Interface
	// Services lists the Services whose variables are injected. Nil means
	// no Service variables at all.
	Services corelisters.ServiceLister
	// MasterServiceNamespace holds the "kubernetes" Service whose
	// variables every container gets; "default" when empty.
	MasterServiceNamespace string
	// Allocatable is the node's allocatable resources, the value of a
	// resourceFieldRef limit the container does not set.
	Allocatable corev1.ResourceList
}

// Resolver resolves container environments. It is safe for concurrent use.
type Resolver struct {
	cfg Config
}

// New returns a Resolver.
func New(cfg Config) (*Resolver, error) {
	if cfg.Client == nil {
		return nil, errors.New("env: Client is required")
	}
	if cfg.MasterServiceNamespace == "" {
		cfg.MasterServiceNamespace = metav1.NamespaceDefault
	}
	return &Resolver{cfg: cfg}, nil
}

// Result is a resolved environment.
type Result struct {
	// Vars are KEY=value entries sorted by key, ready for
	// runtime.ContainerConfig.Env.
	Vars []string
	// Map is the same environment as a map, for expanding command, args
	// and subPathExpr.
	Map map[string]string
	// Warnings are messages for InvalidEnvironmentVariableNames events:
	// envFrom keys that were skipped because they are not valid names.
	Warnings []string
}

// Resolve resolves the environment of container c of pod. ips supplies
// status.podIP(s) and status.hostIP(s). A missing ConfigMap, Secret or key
// that is not optional is an error whose message is the kubelet's
// (configmap "x" not found, couldn't find key k in ConfigMap ns/x); other
// errors are the API's.
func (r *Resolver) Resolve(ctx context.Context, pod *corev1.Pod, c *corev1.Container, ips IPs) (Result, error) {
	serviceEnv, err := r.serviceEnv(pod)
	if err != nil {
		return Result{}, err
	}
	f := fetcher{client: r.cfg.Client, ns: pod.Namespace,
		configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}
	env := map[string]string{}
	var res Result
	for _, from := range c.EnvFrom {
		var data map[string]string
		var kind, name string
		switch {
		case from.ConfigMapRef != nil:
			kind, name = "configMap", from.ConfigMapRef.Name
			cm, err := f.configMap(ctx, name)
			if err != nil {
				if apierrors.IsNotFound(err) && isTrue(from.ConfigMapRef.Optional) {
					continue
				}
				return Result{}, err
			}
			data = cm.Data
		case from.SecretRef != nil:
			kind, name = "secret", from.SecretRef.Name
			s, err := f.secret(ctx, name)
			if err != nil {
				if apierrors.IsNotFound(err) && isTrue(from.SecretRef.Optional) {
					continue
				}
				return Result{}, err
			}
			data = make(map[string]string, len(s.Data))
			for k, v := range s.Data {
				data[k] = string(v)
			}
		default:
			continue
		}
		var invalid []string
		for k, v := range data {
			k = from.Prefix + k
			if len(validation.IsEnvVarName(k)) > 0 {
				invalid = append(invalid, k)
				continue
			}
			env[k] = v
		}
		if len(invalid) > 0 {
			slices.Sort(invalid)
			res.Warnings = append(res.Warnings, fmt.Sprintf(
				"Keys [%s] from the EnvFrom %s %s/%s were skipped since they are considered invalid environment variable names.",
				strings.Join(invalid, ", "), kind, pod.Namespace, name))
		}
	}
	lookup := MapLookup(env, serviceEnv)
	for i := range c.Env {
		e := &c.Env[i]
		value := e.Value
		switch {
		case value != "":
			value = Expand(value, lookup)
		case e.ValueFrom != nil:
			v, ok, err := r.valueFrom(ctx, &f, pod, c, e.ValueFrom, ips)
			if err != nil {
				return Result{}, err
			}
			if !ok {
				continue
			}
			value = v
		}
		env[e.Name] = value
	}
	for k, v := range serviceEnv {
		if _, ok := env[k]; !ok {
			env[k] = v
		}
	}
	res.Map = env
	res.Vars = make([]string, 0, len(env))
	for k, v := range env {
		res.Vars = append(res.Vars, k+"="+v)
	}
	slices.Sort(res.Vars)
	return res, nil
}

// valueFrom resolves one valueFrom; ok false means an optional source is
// missing and the variable is left out.
func (r *Resolver) valueFrom(ctx context.Context, f *fetcher, pod *corev1.Pod, c *corev1.Container, from *corev1.EnvVarSource, ips IPs) (string, bool, error) {
	switch {
	case from.FieldRef != nil:
		v, err := FieldValue(pod, from.FieldRef.FieldPath, ips)
		return v, err == nil, err
	case from.ResourceFieldRef != nil:
		target := c
		if n := from.ResourceFieldRef.ContainerName; n != "" && n != c.Name {
			if target = findContainer(pod, n); target == nil {
				return "", false, fmt.Errorf("container %q not found in pod %s/%s", n, pod.Namespace, pod.Name)
			}
		}
		v, err := ResourceValue(target, from.ResourceFieldRef, r.cfg.Allocatable)
		return v, err == nil, err
	case from.ConfigMapKeyRef != nil:
		ref := from.ConfigMapKeyRef
		cm, err := f.configMap(ctx, ref.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && isTrue(ref.Optional) {
				return "", false, nil
			}
			return "", false, err
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			if isTrue(ref.Optional) {
				return "", false, nil
			}
			return "", false, fmt.Errorf("couldn't find key %v in ConfigMap %v/%v", ref.Key, pod.Namespace, ref.Name)
		}
		return v, true, nil
	case from.SecretKeyRef != nil:
		ref := from.SecretKeyRef
		s, err := f.secret(ctx, ref.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && isTrue(ref.Optional) {
				return "", false, nil
			}
			return "", false, err
		}
		v, ok := s.Data[ref.Key]
		if !ok {
			if isTrue(ref.Optional) {
				return "", false, nil
			}
			return "", false, fmt.Errorf("couldn't find key %v in Secret %v/%v", ref.Key, pod.Namespace, ref.Name)
		}
		return string(v), true, nil
	}
	return "", true, nil
}

func findContainer(pod *corev1.Pod, name string) *corev1.Container {
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}

func isTrue(b *bool) bool { return b != nil && *b }

// fetcher reads each ConfigMap and Secret of one resolution once.
type fetcher struct {
	client     kubernetes.Interface
	ns         string
	configMaps map[string]*corev1.ConfigMap
	secrets    map[string]*corev1.Secret
}

func (f *fetcher) configMap(ctx context.Context, name string) (*corev1.ConfigMap, error) {
	if cm, ok := f.configMaps[name]; ok {
		return cm, nil
	}
	cm, err := GetConfigMap(ctx, f.client, f.ns, name)
	if err != nil {
		return nil, err
	}
	f.configMaps[name] = cm
	return cm, nil
}

func (f *fetcher) secret(ctx context.Context, name string) (*corev1.Secret, error) {
	if s, ok := f.secrets[name]; ok {
		return s, nil
	}
	s, err := GetSecret(ctx, f.client, f.ns, name)
	if err != nil {
		return nil, err
	}
	f.secrets[name] = s
	return s, nil
}

// GetConfigMap reads a ConfigMap; not found is reported as the kubelet
// reports it (configmap "x" not found), still matching IsNotFound.
func GetConfigMap(ctx context.Context, client kubernetes.Interface, ns, name string) (*corev1.ConfigMap, error) {
	cm, err := client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, apierrors.NewNotFound(corev1.Resource("configmap"), name)
	}
	return cm, err
}

// GetSecret reads a Secret; not found is reported as the kubelet reports
// it (secret "x" not found), still matching IsNotFound.
func GetSecret(ctx context.Context, client kubernetes.Interface, ns, name string) (*corev1.Secret, error) {
	s, err := client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, apierrors.NewNotFound(corev1.Resource("secret"), name)
	}
	return s, err
}

// serviceEnv returns the Service variables for pod: those of the master
// "kubernetes" Service always, and those of every Service of the pod's
// namespace when enableServiceLinks is not false.
func (r *Resolver) serviceEnv(pod *corev1.Pod) (map[string]string, error) {
	env := map[string]string{}
	if r.cfg.Services == nil {
		return env, nil
	}
	services, err := r.cfg.Services.List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("listing services: %w", err)
	}
	links := pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks
	chosen := map[string]*corev1.Service{}
	for _, s := range services {
		if s.Spec.ClusterIP == "" || s.Spec.ClusterIP == corev1.ClusterIPNone || s.Spec.Type == corev1.ServiceTypeExternalName {
			continue
		}
		switch {
		case s.Namespace == r.cfg.MasterServiceNamespace && s.Name == "kubernetes":
			if _, ok := chosen[s.Name]; !ok {
				chosen[s.Name] = s
			}
		case s.Namespace == pod.Namespace && links:
			chosen[s.Name] = s
		}
	}
	for _, s := range chosen {
		addServiceVars(env, s)
	}
	return env, nil
}

// addServiceVars adds the <NAME>_SERVICE_HOST/_PORT variables and the
// Docker link variables of s.
func addServiceVars(env map[string]string, s *corev1.Service) {
	if len(s.Spec.Ports) == 0 {
		return
	}
	prefix := strings.ToUpper(strings.ReplaceAll(s.Name, "-", "_"))
	ip := s.Spec.ClusterIP
	env[prefix+"_SERVICE_HOST"] = ip
	env[prefix+"_SERVICE_PORT"] = fmt.Sprint(s.Spec.Ports[0].Port)
	for i, p := range s.Spec.Ports {
		if p.Name != "" {
			env[prefix+"_SERVICE_PORT_"+strings.ToUpper(strings.ReplaceAll(p.Name, "-", "_"))] = fmt.Sprint(p.Port)
		}
		proto := strings.ToLower(string(p.Protocol))
		if proto == "" {
			proto = "tcp"
		}
		url := fmt.Sprintf("%s://%s", proto, joinHostPort(ip, p.Port))
		if i == 0 {
			env[prefix+"_PORT"] = url
		}
		pp := fmt.Sprintf("%s_PORT_%d_%s", prefix, p.Port, strings.ToUpper(proto))
		env[pp] = url
		env[pp+"_PROTO"] = proto
		env[pp+"_PORT"] = fmt.Sprint(p.Port)
		env[pp+"_ADDR"] = ip
	}
}

func joinHostPort(ip string, port int32) string {
	if strings.Contains(ip, ":") {
		return fmt.Sprintf("[%s]:%d", ip, port)
	}
	return fmt.Sprintf("%s:%d", ip, port)
}
