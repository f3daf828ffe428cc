package registry

import (
	"fmt"
	"math"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// podOptions says in which context a PodSpec is validated.
type podOptions struct {
	// isPod is set for a Pod's own spec, unset for templates.
	isPod bool
	// claimVolumes are volume names the containers may mount beyond
	// spec.volumes: a StatefulSet's volume claim templates.
	claimVolumes []string
}

const fileModeErrorMsg = "must be a number between 0 and 0777 (octal), both inclusive"

// validatePod checks a pod's annotations and spec as upstream does on create.
func validatePod(pod *corev1.Pod) field.ErrorList {
	specPath := field.NewPath("spec")
	allErrs := validatePodAnnotations(pod.Annotations, &pod.Spec, field.NewPath("metadata", "annotations"))
	allErrs = append(allErrs, validatePodSpec(&pod.Spec, specPath, podOptions{isPod: true})...)
	if pod.Spec.ServiceAccountName == "" {
		for vi, v := range pod.Spec.Volumes {
			if v.Projected == nil {
				continue
			}
			for si, s := range v.Projected.Sources {
				if s.ServiceAccountToken != nil {
					allErrs = append(allErrs, field.Forbidden(specPath.Child("volumes").Index(vi).Child("projected", "sources").Index(si).Child("serviceAccountToken"),
						"must not be specified when serviceAccountName is not set"))
				}
			}
		}
	}
	for _, list := range []struct {
		name string
		cs   []corev1.Container
	}{{"containers", pod.Spec.Containers}, {"initContainers", pod.Spec.InitContainers}} {
		for i, c := range list.cs {
			allErrs = append(allErrs, validateImageWhitespace(c.Image, specPath.Child(list.name).Index(i).Child("image"))...)
		}
	}
	if pod.Spec.NodeName != "" && len(pod.Spec.SchedulingGates) != 0 {
		allErrs = append(allErrs, field.Forbidden(specPath.Child("nodeName"), "cannot be set until all schedulingGates have been cleared"))
	}
	return allErrs
}

func validateImageWhitespace(image string, fldPath *field.Path) field.ErrorList {
	if len(image) != len(strings.TrimSpace(image)) {
		return field.ErrorList{field.Invalid(fldPath, image, "must not have leading or trailing whitespace")}
	}
	return nil
}

const podDeletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

func validatePodAnnotations(annotations map[string]string, spec *corev1.PodSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if v, ok := annotations[corev1.MirrorPodAnnotationKey]; ok && spec.NodeName == "" {
		allErrs = append(allErrs, field.Invalid(fldPath.Key(corev1.MirrorPodAnnotationKey), v, "must set spec.nodeName if mirror pod annotation is set"))
	}
	if v, ok := annotations[podDeletionCostAnnotation]; ok {
		if _, err := strconv.ParseInt(v, 10, 32); err != nil {
			allErrs = append(allErrs, field.Invalid(fldPath.Key(podDeletionCostAnnotation), v, "must be a 32bit integer"))
		}
	}
	return allErrs
}

// updatablePodSpecFields names, in upstream's words, what a pod update may change.
var updatablePodSpecFields = []string{
	"`spec.containers[*].image`",
	"`spec.initContainers[*].image`",
	"`spec.activeDeadlineSeconds`",
	"`spec.tolerations` (only additions to existing tolerations)",
	"`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
}

// validatePodUpdate allows a pod's spec to change only in container images,
// a shorter active deadline, added tolerations, removed scheduling gates
// and a negative grace period raised to 1; anything else is Forbidden with
// upstream's message and a diff.
func validatePodUpdate(pod, old *corev1.Pod) field.ErrorList {
	specPath := field.NewPath("spec")
	var allErrs field.ErrorList
	for _, list := range []struct {
		name     string
		new, old []corev1.Container
	}{{"containers", pod.Spec.Containers, old.Spec.Containers}, {"initContainers", pod.Spec.InitContainers, old.Spec.InitContainers}} {
		if len(list.new) != len(list.old) {
			return append(allErrs, field.Forbidden(specPath.Child(list.name), "pod updates may not add or remove containers"))
		}
		for i, c := range list.new {
			if c.Image == "" {
				allErrs = append(allErrs, field.Required(specPath.Child(list.name).Index(i).Child("image"), ""))
			}
		}
	}
	adsPath := specPath.Child("activeDeadlineSeconds")
	switch n, o := pod.Spec.ActiveDeadlineSeconds, old.Spec.ActiveDeadlineSeconds; {
	case n != nil && (*n < 0 || *n > math.MaxInt32):
		return append(allErrs, field.Invalid(adsPath, *n, validation.InclusiveRangeError(0, math.MaxInt32)))
	case n != nil && o != nil && *o < *n:
		return append(allErrs, field.Invalid(adsPath, *n, "must be less than or equal to previous value"))
	case n == nil && o != nil:
		allErrs = append(allErrs, field.Invalid(adsPath, n, "must not update from a positive integer to nil value"))
	}
	allErrs = append(allErrs, validateOnlyAddedTolerations(pod.Spec.Tolerations, old.Spec.Tolerations, specPath.Child("tolerations"))...)
	allErrs = append(allErrs, validateOnlyDeletedSchedulingGates(pod.Spec.SchedulingGates, old.Spec.SchedulingGates, specPath.Child("schedulingGates"))...)
	if apiequality.Semantic.DeepEqual(pod.Spec, old.Spec) {
		return allErrs
	}
	munged := pod.Spec.DeepCopy()
	for i := range munged.Containers {
		munged.Containers[i].Image = old.Spec.Containers[i].Image
	}
	for i := range munged.InitContainers {
		munged.InitContainers[i].Image = old.Spec.InitContainers[i].Image
	}
	munged.ActiveDeadlineSeconds = old.Spec.ActiveDeadlineSeconds
	munged.SchedulingGates = old.Spec.SchedulingGates
	munged.Tolerations = old.Spec.Tolerations
	if o, n := old.Spec.TerminationGracePeriodSeconds, munged.TerminationGracePeriodSeconds; o != nil && *o < 0 && n != nil && *n == 1 {
		munged.TerminationGracePeriodSeconds = o
	}
	if !apiequality.Semantic.DeepEqual(*munged, old.Spec) {
		allErrs = append(allErrs, field.Forbidden(specPath, fmt.Sprintf("pod updates may not change fields other than %s\n%v",
			strings.Join(updatablePodSpecFields, ","), cmp.Diff(old.Spec, *munged))))
	}
	return allErrs
}

func validateOnlyAddedTolerations(tolerations, old []corev1.Toleration, fldPath *field.Path) field.ErrorList {
	for _, o := range old {
		if !slices.ContainsFunc(tolerations, func(t corev1.Toleration) bool {
			o.TolerationSeconds = t.TolerationSeconds
			return reflect.DeepEqual(o, t)
		}) {
			return field.ErrorList{field.Forbidden(fldPath, "existing toleration can not be modified except its tolerationSeconds")}
		}
	}
	return validateTolerations(tolerations, fldPath)
}

func validateOnlyDeletedSchedulingGates(gates, old []corev1.PodSchedulingGate, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, g := range gates {
		if !slices.ContainsFunc(old, func(o corev1.PodSchedulingGate) bool { return o.Name == g.Name }) {
			allErrs = append(allErrs, field.Forbidden(fldPath.Index(i).Child("name"), fmt.Sprintf("only deletion is allowed, but found new scheduling gate '%s'", g.Name)))
		}
	}
	return allErrs
}

func validatePodTemplate(t *corev1.PodTemplate) field.ErrorList {
	return validatePodTemplateSpec(&t.Template, field.NewPath("template"), podOptions{})
}

// validatePodTemplateSpec checks a template's labels, annotations and pod
// spec, which may not hold ephemeral containers.
func validatePodTemplateSpec(t *corev1.PodTemplateSpec, fldPath *field.Path, opts podOptions) field.ErrorList {
	allErrs := metavalidation.ValidateLabels(t.Labels, fldPath.Child("labels"))
	allErrs = append(allErrs, apivalidation.ValidateAnnotations(t.Annotations, fldPath.Child("annotations"))...)
	allErrs = append(allErrs, validatePodAnnotations(t.Annotations, &t.Spec, fldPath.Child("annotations"))...)
	allErrs = append(allErrs, validatePodSpec(&t.Spec, fldPath.Child("spec"), opts)...)
	if len(t.Spec.EphemeralContainers) > 0 {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("spec", "ephemeralContainers"), "ephemeral containers not allowed in pod template"))
	}
	return allErrs
}

// validatePodSpec checks a PodSpec the way upstream's ValidatePodSpec does,
// for the fields users set.
func validatePodSpec(spec *corev1.PodSpec, fldPath *field.Path, opts podOptions) field.ErrorList {
	var allErrs field.ErrorList
	if spec.TerminationGracePeriodSeconds == nil {
		allErrs = append(allErrs, field.Required(fldPath.Child("terminationGracePeriodSeconds"), ""))
	}
	vols, errs := validateVolumes(spec.Volumes, fldPath.Child("volumes"), opts)
	allErrs = append(allErrs, errs...)
	for _, name := range opts.claimVolumes {
		if _, ok := vols[name]; !ok {
			vols[name] = corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name}}
		}
	}
	hostUsers := spec.HostUsers == nil || *spec.HostUsers
	ctx := containerContext{volumes: vols, gracePeriod: spec.TerminationGracePeriodSeconds, restartPolicy: spec.RestartPolicy, hostUsers: hostUsers}
	allErrs = append(allErrs, validateContainers(spec.Containers, fldPath.Child("containers"), ctx)...)
	allErrs = append(allErrs, validateInitContainers(spec.InitContainers, spec.Containers, fldPath.Child("initContainers"), ctx)...)
	allErrs = append(allErrs, validateEphemeralContainers(spec, fldPath.Child("ephemeralContainers"), ctx)...)
	if spec.HostNetwork {
		for i, c := range spec.Containers {
			for j, p := range c.Ports {
				if (opts.isPod || p.HostPort != 0) && p.HostPort != p.ContainerPort {
					allErrs = append(allErrs, field.Invalid(fldPath.Child("containers").Index(i).Child("ports").Index(j).Child("hostPort"),
						p.HostPort, "must match `containerPort` when `hostNetwork` is true"))
				}
			}
		}
	}
	allErrs = append(allErrs, validateEnum(fldPath.Child("restartPolicy"), spec.RestartPolicy,
		corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever)...)
	allErrs = append(allErrs, validateEnum(fldPath.Child("dnsPolicy"), spec.DNSPolicy,
		corev1.DNSClusterFirstWithHostNet, corev1.DNSClusterFirst, corev1.DNSDefault, corev1.DNSNone)...)
	allErrs = append(allErrs, metavalidation.ValidateLabels(spec.NodeSelector, fldPath.Child("nodeSelector"))...)
	allErrs = append(allErrs, validatePodSecurityContext(spec, fldPath.Child("securityContext"))...)
	allErrs = append(allErrs, validateAffinity(spec.Affinity, fldPath.Child("affinity"))...)
	allErrs = append(allErrs, validateDNSConfig(spec.DNSConfig, spec.DNSPolicy, fldPath.Child("dnsConfig"))...)
	for i, g := range spec.ReadinessGates {
		allErrs = append(allErrs, qualifiedName(string(g.ConditionType), fldPath.Child("readinessGates").Index(i).Child("conditionType"))...)
	}
	seenGates := sets.New[string]()
	for i, g := range spec.SchedulingGates {
		allErrs = append(allErrs, qualifiedName(g.Name, fldPath.Child("schedulingGates").Index(i))...)
		if seenGates.Has(g.Name) {
			allErrs = append(allErrs, field.Duplicate(fldPath.Child("schedulingGates").Index(i), g.Name))
		}
		seenGates.Insert(g.Name)
	}
	allErrs = append(allErrs, validateTopologySpreadConstraints(spec.TopologySpreadConstraints, fldPath.Child("topologySpreadConstraints"))...)
	if spec.ServiceAccountName != "" {
		allErrs = append(allErrs, nameErrors(spec.ServiceAccountName, fldPath.Child("serviceAccountName"), apivalidation.ValidateServiceAccountName)...)
	}
	if spec.NodeName != "" {
		allErrs = append(allErrs, nameErrors(spec.NodeName, fldPath.Child("nodeName"), apivalidation.NameIsDNSSubdomain)...)
	}
	if a := spec.ActiveDeadlineSeconds; a != nil && (*a < 1 || *a > math.MaxInt32) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("activeDeadlineSeconds"), *a, validation.InclusiveRangeError(1, math.MaxInt32)))
	}
	if spec.Hostname != "" {
		allErrs = append(allErrs, dns1123Label(spec.Hostname, fldPath.Child("hostname"))...)
	}
	if spec.Subdomain != "" {
		allErrs = append(allErrs, dns1123Label(spec.Subdomain, fldPath.Child("subdomain"))...)
	}
	allErrs = append(allErrs, validateTolerations(spec.Tolerations, fldPath.Child("tolerations"))...)
	for i, h := range spec.HostAliases {
		allErrs = append(allErrs, validation.IsValidIP(fldPath.Child("hostAliases").Index(i).Child("ip"), h.IP)...)
		for j, name := range h.Hostnames {
			allErrs = append(allErrs, dns1123Subdomain(name, fldPath.Child("hostAliases").Index(i).Child("hostnames").Index(j))...)
		}
	}
	if spec.PriorityClassName != "" {
		allErrs = append(allErrs, nameErrors(spec.PriorityClassName, fldPath.Child("priorityClassName"), apivalidation.NameIsDNSSubdomain)...)
	}
	if spec.RuntimeClassName != nil {
		allErrs = append(allErrs, nameErrors(*spec.RuntimeClassName, fldPath.Child("runtimeClassName"), apivalidation.NameIsDNSSubdomain)...)
	}
	if spec.PreemptionPolicy != nil {
		allErrs = append(allErrs, validateEnum(fldPath.Child("preemptionPolicy"), *spec.PreemptionPolicy, corev1.PreemptLowerPriority, corev1.PreemptNever)...)
	}
	if spec.Overhead != nil {
		allErrs = append(allErrs, validateResourceRequirements(&corev1.ResourceRequirements{Limits: spec.Overhead}, fldPath.Child("overhead"))...)
	}
	if spec.OS != nil && spec.OS.Name != corev1.Linux && spec.OS.Name != corev1.Windows {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("os", "name"), spec.OS.Name, []corev1.OSName{corev1.Linux, corev1.Windows}))
	}
	return allErrs
}

// validateVolumes checks names and sources and returns the valid volumes
// by name; mounts of an invalid volume then report it as not found, as
// upstream does.
func validateVolumes(volumes []corev1.Volume, fldPath *field.Path, opts podOptions) (map[string]corev1.VolumeSource, field.ErrorList) {
	var allErrs field.ErrorList
	vols := map[string]corev1.VolumeSource{}
	for i, v := range volumes {
		idxPath := fldPath.Index(i)
		errs := validateVolumeSource(&v.VolumeSource, idxPath, opts)
		if v.Name == "" {
			errs = append(errs, field.Required(idxPath.Child("name"), ""))
		} else {
			errs = append(errs, dns1123Label(v.Name, idxPath.Child("name"))...)
		}
		if _, dup := vols[v.Name]; dup {
			errs = append(errs, field.Duplicate(idxPath.Child("name"), v.Name))
		}
		if len(errs) == 0 {
			vols[v.Name] = v.VolumeSource
		}
		allErrs = append(allErrs, errs...)
	}
	return vols, allErrs
}

// volumeSourceOrder is the order in which upstream looks at volume
// sources: with several set, all after the first are reported.
var volumeSourceOrder = []string{
	"emptyDir", "hostPath", "gitRepo", "gcePersistentDisk", "awsElasticBlockStore", "secret", "nfs", "iscsi",
	"glusterfs", "flocker", "persistentVolumeClaim", "rbd", "cinder", "cephfs", "quobyte", "downwardAPI", "fc",
	"flexVolume", "configMap", "azureFile", "vsphereVolume", "photonPersistentDisk", "portworxVolume", "azureDisk",
	"storageos", "projected", "scaleIO", "csi", "ephemeral", "image",
}

// validateVolumeSource requires exactly one source and checks the common ones.
func validateVolumeSource(src *corev1.VolumeSource, fldPath *field.Path, opts podOptions) field.ErrorList {
	var allErrs field.ErrorList
	set := setFields(*src)
	first := ""
	for _, name := range volumeSourceOrder {
		if !set.Has(name) {
			continue
		}
		if first == "" {
			first = name
			allErrs = append(allErrs, validateOneVolumeSource(src, first, fldPath.Child(name), opts)...)
			continue
		}
		allErrs = append(allErrs, field.Forbidden(fldPath.Child(name), "may not specify more than 1 volume type"))
	}
	if first == "" {
		allErrs = append(allErrs, field.Required(fldPath, "must specify a volume type"))
	}
	return allErrs
}

// validateOneVolumeSource checks the source of src with the given JSON
// name, at fldPath.
func validateOneVolumeSource(src *corev1.VolumeSource, name string, fldPath *field.Path, opts podOptions) field.ErrorList {
	var allErrs field.ErrorList
	switch name {
	case "emptyDir":
		if l := src.EmptyDir.SizeLimit; l != nil && l.Sign() < 0 {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("sizeLimit"), "SizeLimit field must be a valid resource quantity"))
		}
	case "hostPath":
		allErrs = append(allErrs, validateHostPath(src.HostPath, fldPath)...)
	case "secret":
		if src.Secret.SecretName == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("secretName"), ""))
		}
		allErrs = append(allErrs, validateFileMode(src.Secret.DefaultMode, fldPath.Child("defaultMode"))...)
		allErrs = append(allErrs, validateKeyToPaths(src.Secret.Items, fldPath.Child("items"))...)
	case "configMap":
		if src.ConfigMap.Name == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("name"), ""))
		}
		allErrs = append(allErrs, validateFileMode(src.ConfigMap.DefaultMode, fldPath.Child("defaultMode"))...)
		allErrs = append(allErrs, validateKeyToPaths(src.ConfigMap.Items, fldPath.Child("items"))...)
	case "persistentVolumeClaim":
		if src.PersistentVolumeClaim.ClaimName == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("claimName"), ""))
		}
	case "nfs":
		allErrs = append(allErrs, validateNFS(src.NFS, fldPath)...)
	case "downwardAPI":
		allErrs = append(allErrs, validateFileMode(src.DownwardAPI.DefaultMode, fldPath.Child("defaultMode"))...)
		for _, f := range src.DownwardAPI.Items {
			allErrs = append(allErrs, validateDownwardAPIFile(&f, fldPath)...)
		}
	case "projected":
		allErrs = append(allErrs, validateProjected(src.Projected, fldPath)...)
	case "csi":
		if src.CSI.Driver == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("driver"), ""))
		}
	case "ephemeral":
		if src.Ephemeral.VolumeClaimTemplate == nil {
			allErrs = append(allErrs, field.Required(fldPath.Child("volumeClaimTemplate"), ""))
		} else {
			allErrs = append(allErrs, validatePVCSpec(&src.Ephemeral.VolumeClaimTemplate.Spec, fldPath.Child("volumeClaimTemplate", "spec"))...)
		}
	case "image":
		if opts.isPod && src.Image.Reference == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("reference"), ""))
		}
		if src.Image.PullPolicy != "" {
			allErrs = append(allErrs, validateEnum(fldPath.Child("pullPolicy"), src.Image.PullPolicy, corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever)...)
		}
	case "gitRepo":
		if src.GitRepo.Repository == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("repository"), ""))
		}
		allErrs = append(allErrs, validateLocalDescendingPath(src.GitRepo.Directory, fldPath.Child("directory"))...)
	}
	return allErrs
}

var hostPathTypes = []corev1.HostPathType{
	corev1.HostPathBlockDev, corev1.HostPathCharDev, corev1.HostPathDirectory, corev1.HostPathDirectoryOrCreate,
	corev1.HostPathFile, corev1.HostPathFileOrCreate, corev1.HostPathSocket, corev1.HostPathUnset,
}

func validateHostPath(h *corev1.HostPathVolumeSource, fldPath *field.Path) field.ErrorList {
	if h.Path == "" {
		return field.ErrorList{field.Required(fldPath.Child("path"), "")}
	}
	allErrs := validatePathNoBacksteps(h.Path, fldPath.Child("path"))
	if h.Type != nil && !slices.Contains(hostPathTypes, *h.Type) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("type"), *h.Type, hostPathTypes))
	}
	return allErrs
}

func validateNFS(n *corev1.NFSVolumeSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if n.Server == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("server"), ""))
	}
	if n.Path == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("path"), ""))
	}
	if !path.IsAbs(n.Path) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("path"), n.Path, "must be an absolute path"))
	}
	return allErrs
}

func validateFileMode(mode *int32, fldPath *field.Path) field.ErrorList {
	if mode != nil && (*mode > 0777 || *mode < 0) {
		return field.ErrorList{field.Invalid(fldPath, *mode, fileModeErrorMsg)}
	}
	return nil
}

func validateKeyToPaths(items []corev1.KeyToPath, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, kp := range items {
		p := fldPath.Index(i)
		if kp.Key == "" {
			allErrs = append(allErrs, field.Required(p.Child("key"), ""))
		}
		if kp.Path == "" {
			allErrs = append(allErrs, field.Required(p.Child("path"), ""))
		}
		allErrs = append(allErrs, validateLocalNonReservedPath(kp.Path, p.Child("path"))...)
		allErrs = append(allErrs, validateFileMode(kp.Mode, p.Child("mode"))...)
	}
	return allErrs
}

var volumeFieldPaths = []string{"metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid"}

func validateDownwardAPIFile(f *corev1.DownwardAPIVolumeFile, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if f.Path == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("path"), ""))
	}
	allErrs = append(allErrs, validateLocalNonReservedPath(f.Path, fldPath.Child("path"))...)
	switch {
	case f.FieldRef != nil:
		allErrs = append(allErrs, validateObjectFieldSelector(f.FieldRef, volumeFieldPaths, fldPath.Child("fieldRef"))...)
		if f.ResourceFieldRef != nil {
			allErrs = append(allErrs, field.Invalid(fldPath, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"))
		}
	case f.ResourceFieldRef != nil:
		allErrs = append(allErrs, validateResourceFieldSelector(f.ResourceFieldRef, true, fldPath.Child("resourceFieldRef"))...)
	default:
		allErrs = append(allErrs, field.Required(fldPath, "one of fieldRef and resourceFieldRef is required"))
	}
	return append(allErrs, validateFileMode(f.Mode, fldPath.Child("mode"))...)
}

func validateProjected(p *corev1.ProjectedVolumeSource, fldPath *field.Path) field.ErrorList {
	allErrs := validateFileMode(p.DefaultMode, fldPath.Child("defaultMode"))
	paths := sets.New[string]()
	addPath := func(name, pth string) {
		if pth == "" {
			return
		}
		if paths.Has(pth) {
			allErrs = append(allErrs, field.Invalid(fldPath, name, "conflicting duplicate paths"))
		}
		paths.Insert(pth)
	}
	for i, s := range p.Sources {
		srcPath := fldPath.Child("sources").Index(i)
		n := 0
		if s.Secret != nil {
			n++
			if s.Secret.Name == "" {
				allErrs = append(allErrs, field.Required(srcPath.Child("secret", "name"), ""))
			}
			allErrs = append(allErrs, validateKeyToPaths(s.Secret.Items, srcPath.Child("secret", "items"))...)
			for _, kp := range s.Secret.Items {
				addPath(s.Secret.Name, kp.Path)
			}
		}
		if s.ConfigMap != nil {
			n++
			if s.ConfigMap.Name == "" {
				allErrs = append(allErrs, field.Required(srcPath.Child("configMap", "name"), ""))
			}
			allErrs = append(allErrs, validateKeyToPaths(s.ConfigMap.Items, srcPath.Child("configMap", "items"))...)
			for _, kp := range s.ConfigMap.Items {
				addPath(s.ConfigMap.Name, kp.Path)
			}
		}
		if s.DownwardAPI != nil {
			n++
			for _, f := range s.DownwardAPI.Items {
				allErrs = append(allErrs, validateDownwardAPIFile(&f, srcPath.Child("downwardAPI"))...)
				addPath("", f.Path)
			}
		}
		if t := s.ServiceAccountToken; t != nil {
			n++
			tp := srcPath.Child("serviceAccountToken")
			if e := t.ExpirationSeconds; e != nil && *e < 10*60 {
				allErrs = append(allErrs, field.Invalid(tp.Child("expirationSeconds"), *e, "may not specify a duration less than 10 minutes"))
			} else if e != nil && *e > 1<<32 {
				allErrs = append(allErrs, field.Invalid(tp.Child("expirationSeconds"), *e, "may not specify a duration larger than 2^32 seconds"))
			}
			if t.Path == "" {
				allErrs = append(allErrs, field.Required(tp.Child("path"), ""))
			}
			allErrs = append(allErrs, validateLocalNonReservedPath(t.Path, tp.Child("path"))...)
			addPath("", t.Path)
		}
		if s.ClusterTrustBundle != nil {
			n++
		}
		if s.PodCertificate != nil {
			n++
		}
		if n > 1 {
			allErrs = append(allErrs, field.Forbidden(srcPath, "may not specify more than 1 volume type per source"))
		}
	}
	return allErrs
}

func validateLocalDescendingPath(p string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if path.IsAbs(p) {
		allErrs = append(allErrs, field.Invalid(fldPath, p, "must be a relative path"))
	}
	return append(allErrs, validatePathNoBacksteps(p, fldPath)...)
}

func validatePathNoBacksteps(p string, fldPath *field.Path) field.ErrorList {
	if slices.Contains(strings.Split(p, "/"), "..") {
		return field.ErrorList{field.Invalid(fldPath, p, "must not contain '..'")}
	}
	return nil
}

func validateLocalNonReservedPath(p string, fldPath *field.Path) field.ErrorList {
	allErrs := validateLocalDescendingPath(p, fldPath)
	if strings.HasPrefix(p, "..") && !strings.HasPrefix(p, "../") {
		allErrs = append(allErrs, field.Invalid(fldPath, p, "must not start with '..'"))
	}
	return allErrs
}

// containerContext is what container validation needs from the pod spec.
type containerContext struct {
	volumes       map[string]corev1.VolumeSource
	gracePeriod   *int64
	restartPolicy corev1.RestartPolicy
	hostUsers     bool
}

func validateContainers(containers []corev1.Container, fldPath *field.Path, ctx containerContext) field.ErrorList {
	if len(containers) == 0 {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	var allErrs field.ErrorList
	names := sets.New[string]()
	for i := range containers {
		c := &containers[i]
		p := fldPath.Index(i)
		allErrs = append(allErrs, validateContainerCommon(c, p, ctx)...)
		if names.Has(c.Name) {
			allErrs = append(allErrs, field.Duplicate(p.Child("name"), c.Name))
		}
		names.Insert(c.Name)
		allErrs = append(allErrs, validateLifecycleAndProbes(c, p, ctx)...)
		if c.RestartPolicy != nil {
			allErrs = append(allErrs, field.Forbidden(p.Child("restartPolicy"), "may not be set for non-init containers"))
		}
	}
	return append(allErrs, checkHostPortConflicts(containers, fldPath)...)
}

func validateInitContainers(containers, regular []corev1.Container, fldPath *field.Path, ctx containerContext) field.ErrorList {
	var allErrs field.ErrorList
	names := sets.New[string]()
	for _, c := range regular {
		names.Insert(c.Name)
	}
	const notSidecar = "may not be set for init containers without restartPolicy=Always"
	for i := range containers {
		c := &containers[i]
		p := fldPath.Index(i)
		allErrs = append(allErrs, validateContainerCommon(c, p, ctx)...)
		sidecar := false
		if c.RestartPolicy != nil {
			allErrs = append(allErrs, validateEnum(p.Child("restartPolicy"), *c.RestartPolicy, corev1.ContainerRestartPolicyAlways)...)
			sidecar = *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		}
		if names.Has(c.Name) {
			allErrs = append(allErrs, field.Duplicate(p.Child("name"), c.Name))
		} else if c.Name != "" {
			names.Insert(c.Name)
		}
		allErrs = append(allErrs, checkHostPortConflicts(containers[i:i+1], fldPath)...)
		if sidecar {
			allErrs = append(allErrs, validateLifecycleAndProbes(c, p, ctx)...)
			continue
		}
		for _, f := range []struct {
			name string
			set  bool
		}{{"lifecycle", c.Lifecycle != nil}, {"livenessProbe", c.LivenessProbe != nil}, {"readinessProbe", c.ReadinessProbe != nil}, {"startupProbe", c.StartupProbe != nil}} {
			if f.set {
				allErrs = append(allErrs, field.Forbidden(p.Child(f.name), notSidecar))
			}
		}
	}
	return allErrs
}

func validateEphemeralContainers(spec *corev1.PodSpec, fldPath *field.Path, ctx containerContext) field.ErrorList {
	var allErrs field.ErrorList
	others := sets.New[string]()
	for _, c := range slices.Concat(spec.Containers, spec.InitContainers) {
		others.Insert(c.Name)
	}
	all := others.Clone()
	const notEphemeral = "cannot be set for an Ephemeral Container"
	for i := range spec.EphemeralContainers {
		ec := &spec.EphemeralContainers[i]
		c := (*corev1.Container)(&ec.EphemeralContainerCommon)
		p := fldPath.Index(i)
		allErrs = append(allErrs, validateContainerCommon(c, p, ctx)...)
		allErrs = append(allErrs, validateImageWhitespace(c.Image, p.Child("image"))...)
		if all.Has(ec.Name) {
			allErrs = append(allErrs, field.Duplicate(p.Child("name"), ec.Name))
		}
		all.Insert(ec.Name)
		if ec.TargetContainerName != "" && !others.Has(ec.TargetContainerName) {
			allErrs = append(allErrs, field.NotFound(p.Child("targetContainerName"), ec.TargetContainerName))
		}
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"ports", len(c.Ports) > 0}, {"resources", !reflect.ValueOf(c.Resources).IsZero()}, {"resizePolicy", len(c.ResizePolicy) > 0},
			{"lifecycle", c.Lifecycle != nil}, {"livenessProbe", c.LivenessProbe != nil}, {"readinessProbe", c.ReadinessProbe != nil},
			{"startupProbe", c.StartupProbe != nil}, {"restartPolicy", c.RestartPolicy != nil}, {"restartPolicyRules", len(c.RestartPolicyRules) > 0},
		} {
			if f.set {
				allErrs = append(allErrs, field.Forbidden(p.Child(f.name), notEphemeral))
			}
		}
		for j, m := range c.VolumeMounts {
			if m.SubPath != "" {
				allErrs = append(allErrs, field.Forbidden(p.Child("volumeMounts").Index(j).Child("subPath"), notEphemeral))
			}
			if m.SubPathExpr != "" {
				allErrs = append(allErrs, field.Forbidden(p.Child("volumeMounts").Index(j).Child("subPathExpr"), notEphemeral))
			}
		}
	}
	return allErrs
}

// validateContainerCommon applies the checks shared by regular, init and
// ephemeral containers.
func validateContainerCommon(c *corev1.Container, p *field.Path, ctx containerContext) field.ErrorList {
	var allErrs field.ErrorList
	if c.Name == "" {
		allErrs = append(allErrs, field.Required(p.Child("name"), ""))
	} else {
		allErrs = append(allErrs, dns1123Label(c.Name, p.Child("name"))...)
	}
	if c.Image == "" {
		allErrs = append(allErrs, field.Required(p.Child("image"), ""))
	}
	allErrs = append(allErrs, validateEnum(p.Child("terminationMessagePolicy"), c.TerminationMessagePolicy,
		corev1.TerminationMessageReadFile, corev1.TerminationMessageFallbackToLogsOnError)...)
	allErrs = append(allErrs, validateContainerPorts(c.Ports, p.Child("ports"))...)
	allErrs = append(allErrs, validateEnv(c.Env, p.Child("env"))...)
	allErrs = append(allErrs, validateEnvFrom(c.EnvFrom, p.Child("envFrom"))...)
	allErrs = append(allErrs, validateVolumeMounts(c, ctx.volumes, p.Child("volumeMounts"))...)
	allErrs = append(allErrs, validateVolumeDevices(c, ctx.volumes, p.Child("volumeDevices"))...)
	allErrs = append(allErrs, validateEnum(p.Child("imagePullPolicy"), c.ImagePullPolicy, corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever)...)
	allErrs = append(allErrs, validateResourceRequirements(&c.Resources, p.Child("resources"))...)
	allErrs = append(allErrs, validateSecurityContext(c.SecurityContext, p.Child("securityContext"), ctx.hostUsers)...)
	return allErrs
}

func validateContainerPorts(ports []corev1.ContainerPort, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	names := sets.New[string]()
	for i, port := range ports {
		p := fldPath.Index(i)
		if port.Name != "" {
			if msgs := validation.IsValidPortName(port.Name); len(msgs) != 0 {
				allErrs = append(allErrs, invalid(p.Child("name"), port.Name, msgs)...)
			} else if names.Has(port.Name) {
				allErrs = append(allErrs, field.Duplicate(p.Child("name"), port.Name))
			} else {
				names.Insert(port.Name)
			}
		}
		if port.ContainerPort == 0 {
			allErrs = append(allErrs, field.Required(p.Child("containerPort"), ""))
		} else {
			allErrs = append(allErrs, invalid(p.Child("containerPort"), port.ContainerPort, validation.IsValidPortNum(int(port.ContainerPort)))...)
		}
		if port.HostPort != 0 {
			allErrs = append(allErrs, invalid(p.Child("hostPort"), port.HostPort, validation.IsValidPortNum(int(port.HostPort)))...)
		}
		allErrs = append(allErrs, validateProtocol(port.Protocol, p.Child("protocol"))...)
	}
	return allErrs
}

var portProtocols = []corev1.Protocol{corev1.ProtocolSCTP, corev1.ProtocolTCP, corev1.ProtocolUDP}

func validateProtocol(proto corev1.Protocol, fldPath *field.Path) field.ErrorList {
	return validateEnum(fldPath, proto, portProtocols...)
}

// checkHostPortConflicts reports a host port used twice for the same
// protocol and host IP across the given containers.
func checkHostPortConflicts(containers []corev1.Container, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	seen := sets.New[string]()
	for ci, c := range containers {
		for pi, p := range c.Ports {
			if p.HostPort == 0 {
				continue
			}
			key := fmt.Sprintf("%s/%s/%d", p.Protocol, p.HostIP, p.HostPort)
			if seen.Has(key) {
				allErrs = append(allErrs, field.Duplicate(fldPath.Index(ci).Child("ports").Index(pi).Child("hostPort"), key))
			}
			seen.Insert(key)
		}
	}
	return allErrs
}

var envFieldPaths = []string{
	"metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName",
	"status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs",
}

func validateEnv(vars []corev1.EnvVar, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, ev := range vars {
		p := fldPath.Index(i)
		if ev.Name == "" {
			allErrs = append(allErrs, field.Required(p.Child("name"), ""))
		} else {
			allErrs = append(allErrs, invalid(p.Child("name"), ev.Name, validation.IsRelaxedEnvVarName(ev.Name))...)
		}
		from := ev.ValueFrom
		if from == nil {
			continue
		}
		fp := p.Child("valueFrom")
		n := 0
		if from.FieldRef != nil {
			n++
			allErrs = append(allErrs, validateObjectFieldSelector(from.FieldRef, envFieldPaths, fp.Child("fieldRef"))...)
		}
		if from.ResourceFieldRef != nil {
			n++
			allErrs = append(allErrs, validateResourceFieldSelector(from.ResourceFieldRef, false, fp.Child("resourceFieldRef"))...)
		}
		if from.ConfigMapKeyRef != nil {
			n++
			allErrs = append(allErrs, validateKeySelector(from.ConfigMapKeyRef.Name, from.ConfigMapKeyRef.Key, fp.Child("configMapKeyRef"))...)
		}
		if from.SecretKeyRef != nil {
			n++
			allErrs = append(allErrs, validateKeySelector(from.SecretKeyRef.Name, from.SecretKeyRef.Key, fp.Child("secretKeyRef"))...)
		}
		if from.FileKeyRef != nil {
			n++
		}
		switch {
		case n == 0:
			allErrs = append(allErrs, field.Invalid(fp, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
		case ev.Value != "":
			allErrs = append(allErrs, field.Invalid(fp, "", "may not be specified when `value` is not empty"))
		case n > 1:
			allErrs = append(allErrs, field.Invalid(fp, "", "may not have more than one field specified at a time"))
		}
	}
	return allErrs
}

func validateKeySelector(name, key string, fldPath *field.Path) field.ErrorList {
	allErrs := invalid(fldPath.Child("name"), name, apivalidation.NameIsDNSSubdomain(name, false))
	if key == "" {
		return append(allErrs, field.Required(fldPath.Child("key"), ""))
	}
	return append(allErrs, invalid(fldPath.Child("key"), key, validation.IsConfigMapKey(key))...)
}

func validateEnvFrom(sources []corev1.EnvFromSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, s := range sources {
		p := fldPath.Index(i)
		if s.Prefix != "" {
			allErrs = append(allErrs, invalid(p.Child("prefix"), s.Prefix, validation.IsRelaxedEnvVarName(s.Prefix))...)
		}
		n := 0
		if s.ConfigMapRef != nil {
			n++
			allErrs = append(allErrs, validateEnvSourceName(s.ConfigMapRef.Name, p.Child("configMapRef", "name"))...)
		}
		if s.SecretRef != nil {
			n++
			allErrs = append(allErrs, validateEnvSourceName(s.SecretRef.Name, p.Child("secretRef", "name"))...)
		}
		switch {
		case n == 0:
			allErrs = append(allErrs, field.Invalid(fldPath, "", "must specify one of: `configMapRef` or `secretRef`"))
		case n > 1:
			allErrs = append(allErrs, field.Invalid(fldPath, "", "may not have more than one field specified at a time"))
		}
	}
	return allErrs
}

func validateEnvSourceName(name string, fldPath *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	return invalid(fldPath, name, apivalidation.NameIsDNSSubdomain(name, true))
}

// validateObjectFieldSelector checks a downward API field reference against
// the paths allowed where it appears; labels and annotations may be
// subscripted by a valid key.
func validateObjectFieldSelector(fs *corev1.ObjectFieldSelector, allowed []string, fldPath *field.Path) field.ErrorList {
	if fs.APIVersion == "" {
		return field.ErrorList{field.Required(fldPath.Child("apiVersion"), "")}
	}
	if fs.FieldPath == "" {
		return field.ErrorList{field.Required(fldPath.Child("fieldPath"), "")}
	}
	if fs.APIVersion != "v1" {
		return field.ErrorList{field.Invalid(fldPath.Child("fieldPath"), fs.FieldPath, "error converting fieldPath: unsupported pod version: "+fs.APIVersion)}
	}
	if base, rest, ok := strings.Cut(fs.FieldPath, "['"); ok && strings.HasSuffix(rest, "']") {
		key := strings.TrimSuffix(rest, "']")
		switch base {
		case "metadata.annotations":
			return qualifiedName(strings.ToLower(key), fldPath)
		case "metadata.labels":
			return qualifiedName(key, fldPath)
		}
		return field.ErrorList{field.Invalid(fldPath, base, "does not support subscript")}
	}
	if !slices.Contains(allowed, fs.FieldPath) {
		return field.ErrorList{field.NotSupported(fldPath.Child("fieldPath"), fs.FieldPath, allowed)}
	}
	return nil
}

var containerResourceFields = []string{
	"limits.cpu", "limits.ephemeral-storage", "limits.memory", "requests.cpu", "requests.ephemeral-storage", "requests.memory",
}

func validateResourceFieldSelector(fs *corev1.ResourceFieldSelector, inVolume bool, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch {
	case inVolume && fs.ContainerName == "":
		allErrs = append(allErrs, field.Required(fldPath.Child("containerName"), ""))
	case fs.Resource == "":
		allErrs = append(allErrs, field.Required(fldPath.Child("resource"), ""))
	case !slices.Contains(containerResourceFields, fs.Resource) &&
		!strings.HasPrefix(fs.Resource, "limits.hugepages-") && !strings.HasPrefix(fs.Resource, "requests.hugepages-"):
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("resource"), fs.Resource, containerResourceFields))
	}
	if fs.Divisor.IsZero() {
		return allErrs
	}
	d := fs.Divisor.String()
	var ok bool
	var kind string
	switch r := fs.Resource; {
	case r == "limits.cpu" || r == "requests.cpu":
		if !slices.Contains([]string{"1m", "1"}, d) {
			return append(allErrs, field.Invalid(fldPath.Child("divisor"), r, "only divisor's values 1m and 1 are supported with the cpu resource"))
		}
		return allErrs
	case r == "limits.memory" || r == "requests.memory":
		ok, kind = byteDivisor(d), "memory"
	case r == "limits.ephemeral-storage" || r == "requests.ephemeral-storage":
		ok, kind = byteDivisor(d), "local ephemeral storage"
	case strings.HasPrefix(r, "limits.hugepages-") || strings.HasPrefix(r, "requests.hugepages-"):
		ok, kind = byteDivisor(d), "hugepages"
	default:
		return allErrs
	}
	if !ok {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("divisor"), fs.Resource,
			"only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the "+kind+" resource"))
	}
	return allErrs
}

func byteDivisor(d string) bool {
	return slices.Contains([]string{"1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"}, d)
}

func validateVolumeMounts(c *corev1.Container, volumes map[string]corev1.VolumeSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	mountPoints := sets.New[string]()
	devices := map[string]string{}
	for _, d := range c.VolumeDevices {
		devices[d.Name] = d.DevicePath
	}
	for i, m := range c.VolumeMounts {
		p := fldPath.Index(i)
		if m.Name == "" {
			allErrs = append(allErrs, field.Required(p.Child("name"), ""))
		}
		src, found := volumes[m.Name]
		if !found {
			allErrs = append(allErrs, field.NotFound(p.Child("name"), m.Name))
		}
		if m.MountPath == "" {
			allErrs = append(allErrs, field.Required(p.Child("mountPath"), ""))
		}
		if mountPoints.Has(m.MountPath) {
			allErrs = append(allErrs, field.Invalid(p.Child("mountPath"), m.MountPath, "must be unique"))
		}
		mountPoints.Insert(m.MountPath)
		if _, ok := devices[m.Name]; ok {
			allErrs = append(allErrs, field.Invalid(p.Child("name"), m.Name, "must not already exist in volumeDevices"))
		}
		for _, dp := range devices {
			if dp == m.MountPath {
				allErrs = append(allErrs, field.Invalid(p.Child("mountPath"), m.MountPath, "must not already exist as a path in volumeDevices"))
			}
		}
		if found && src.Image != nil {
			if m.SubPath != "" {
				allErrs = append(allErrs, field.Invalid(p.Child("subPath"), m.SubPath, "not allowed in image volume sources"))
			}
			if m.SubPathExpr != "" {
				allErrs = append(allErrs, field.Invalid(p.Child("subPathExpr"), m.SubPathExpr, "not allowed in image volume sources"))
			}
		}
		if m.SubPath != "" {
			allErrs = append(allErrs, validateLocalDescendingPath(m.SubPath, fldPath.Child("subPath"))...)
		}
		if m.SubPathExpr != "" {
			if m.SubPath != "" {
				allErrs = append(allErrs, field.Invalid(p.Child("subPathExpr"), m.SubPathExpr, "subPathExpr and subPath are mutually exclusive"))
			}
			allErrs = append(allErrs, validateLocalDescendingPath(m.SubPathExpr, fldPath.Child("subPathExpr"))...)
		}
		if mp := m.MountPropagation; mp != nil {
			valid := []corev1.MountPropagationMode{corev1.MountPropagationBidirectional, corev1.MountPropagationHostToContainer, corev1.MountPropagationNone}
			privileged := c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged
			switch {
			case !slices.Contains(valid, *mp):
				allErrs = append(allErrs, field.NotSupported(fldPath.Child("mountPropagation"), *mp, valid))
			case *mp == corev1.MountPropagationBidirectional && !privileged:
				allErrs = append(allErrs, field.Forbidden(fldPath.Child("mountPropagation"), "Bidirectional mount propagation is available only to privileged containers"))
			}
		}
	}
	return allErrs
}

func validateVolumeDevices(c *corev1.Container, volumes map[string]corev1.VolumeSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	names, paths := sets.New[string](), sets.New[string]()
	for i, d := range c.VolumeDevices {
		p := fldPath.Index(i)
		if d.Name == "" {
			allErrs = append(allErrs, field.Required(p.Child("name"), ""))
		}
		if names.Has(d.Name) {
			allErrs = append(allErrs, field.Invalid(p.Child("name"), d.Name, "must be unique"))
		}
		switch src, ok := volumes[d.Name]; {
		case !ok:
			allErrs = append(allErrs, field.NotFound(p.Child("name"), d.Name))
		case src.PersistentVolumeClaim == nil && src.Ephemeral == nil:
			allErrs = append(allErrs, field.Invalid(p.Child("name"), d.Name, "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode"))
		}
		if d.DevicePath == "" {
			allErrs = append(allErrs, field.Required(p.Child("devicePath"), ""))
		}
		if paths.Has(d.DevicePath) {
			allErrs = append(allErrs, field.Invalid(p.Child("devicePath"), d.DevicePath, "must be unique"))
		}
		if d.DevicePath != "" && len(validatePathNoBacksteps(d.DevicePath, p)) > 0 {
			allErrs = append(allErrs, field.Invalid(p.Child("devicePath"), d.DevicePath, "can not contain backsteps ('..')"))
		} else {
			paths.Insert(d.DevicePath)
		}
		if d.Name != "" {
			names.Insert(d.Name)
		}
	}
	return allErrs
}

func validateLifecycleAndProbes(c *corev1.Container, p *field.Path, ctx containerContext) field.ErrorList {
	var allErrs field.ErrorList
	if l := c.Lifecycle; l != nil {
		for _, h := range []struct {
			name string
			h    *corev1.LifecycleHandler
		}{{"postStart", l.PostStart}, {"preStop", l.PreStop}} {
			if h.h != nil {
				allErrs = append(allErrs, validateHandler(handler{h.h.Exec, h.h.HTTPGet, h.h.TCPSocket, nil, h.h.Sleep}, p.Child("lifecycle", h.name), ctx.gracePeriod)...)
			}
		}
	}
	for _, pr := range []struct {
		name  string
		probe *corev1.Probe
	}{{"livenessProbe", c.LivenessProbe}, {"readinessProbe", c.ReadinessProbe}, {"startupProbe", c.StartupProbe}} {
		if pr.probe == nil {
			continue
		}
		pp := p.Child(pr.name)
		allErrs = append(allErrs, validateProbe(pr.probe, pp, ctx.gracePeriod)...)
		if pr.name != "readinessProbe" && pr.probe.SuccessThreshold != 1 {
			allErrs = append(allErrs, field.Invalid(pp.Child("successThreshold"), pr.probe.SuccessThreshold, "must be 1"))
		}
		if pr.name == "readinessProbe" && pr.probe.TerminationGracePeriodSeconds != nil {
			allErrs = append(allErrs, field.Invalid(pp.Child("terminationGracePeriodSeconds"), pr.probe.TerminationGracePeriodSeconds, "must not be set for readinessProbes"))
		}
	}
	return allErrs
}

func validateProbe(pr *corev1.Probe, p *field.Path, gracePeriod *int64) field.ErrorList {
	h := pr.ProbeHandler
	allErrs := validateHandler(handler{h.Exec, h.HTTPGet, h.TCPSocket, h.GRPC, nil}, p, gracePeriod)
	for _, f := range []struct {
		name string
		v    int32
	}{{"initialDelaySeconds", pr.InitialDelaySeconds}, {"timeoutSeconds", pr.TimeoutSeconds}, {"periodSeconds", pr.PeriodSeconds},
		{"successThreshold", pr.SuccessThreshold}, {"failureThreshold", pr.FailureThreshold}} {
		allErrs = append(allErrs, apivalidation.ValidateNonnegativeField(int64(f.v), p.Child(f.name))...)
	}
	if g := pr.TerminationGracePeriodSeconds; g != nil && *g <= 0 {
		allErrs = append(allErrs, field.Invalid(p.Child("terminationGracePeriodSeconds"), *g, "must be greater than 0"))
	}
	return allErrs
}

// handler is the union of probe and lifecycle handler actions.
type handler struct {
	exec      *corev1.ExecAction
	httpGet   *corev1.HTTPGetAction
	tcpSocket *corev1.TCPSocketAction
	grpc      *corev1.GRPCAction
	sleep     *corev1.SleepAction
}

// validateHandler requires exactly one action and checks it.
func validateHandler(h handler, p *field.Path, gracePeriod *int64) field.ErrorList {
	var allErrs field.ErrorList
	n := 0
	one := func(name string, set bool, check func() field.ErrorList) {
		if !set {
			return
		}
		if n++; n > 1 {
			allErrs = append(allErrs, field.Forbidden(p.Child(name), "may not specify more than 1 handler type"))
			return
		}
		allErrs = append(allErrs, check()...)
	}
	one("exec", h.exec != nil, func() field.ErrorList {
		if len(h.exec.Command) == 0 {
			return field.ErrorList{field.Required(p.Child("exec", "command"), "")}
		}
		return nil
	})
	one("httpGet", h.httpGet != nil, func() field.ErrorList {
		hp := p.Child("httpGet")
		var errs field.ErrorList
		if h.httpGet.Path == "" {
			errs = append(errs, field.Required(hp.Child("path"), ""))
		}
		errs = append(errs, validatePortNumOrName(h.httpGet.Port, hp.Child("port"))...)
		if s := h.httpGet.Scheme; s != corev1.URISchemeHTTP && s != corev1.URISchemeHTTPS {
			errs = append(errs, field.NotSupported(hp.Child("scheme"), s, []corev1.URIScheme{corev1.URISchemeHTTP, corev1.URISchemeHTTPS}))
		}
		for _, hdr := range h.httpGet.HTTPHeaders {
			errs = append(errs, invalid(hp.Child("httpHeaders"), hdr.Name, validation.IsHTTPHeaderName(hdr.Name))...)
		}
		return errs
	})
	one("tcpSocket", h.tcpSocket != nil, func() field.ErrorList {
		return validatePortNumOrName(h.tcpSocket.Port, p.Child("tcpSocket", "port"))
	})
	one("grpc", h.grpc != nil, func() field.ErrorList {
		return validatePortNumOrName(intstr.FromInt32(h.grpc.Port), p.Child("grpc", "port"))
	})
	one("sleep", h.sleep != nil, func() field.ErrorList {
		if g := gracePeriod; g != nil && (h.sleep.Seconds < 0 || h.sleep.Seconds > *g) {
			return field.ErrorList{field.Invalid(p.Child("sleep"), h.sleep.Seconds,
				fmt.Sprintf("must be non-negative and less than terminationGracePeriodSeconds (%d)", *g))}
		}
		return nil
	})
	if n == 0 {
		allErrs = append(allErrs, field.Required(p, "must specify a handler type"))
	}
	return allErrs
}

func validatePortNumOrName(port intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	switch port.Type {
	case intstr.Int:
		return invalid(fldPath, port.IntValue(), validation.IsValidPortNum(port.IntValue()))
	case intstr.String:
		return invalid(fldPath, port.StrVal, validation.IsValidPortName(port.StrVal))
	}
	return field.ErrorList{field.InternalError(fldPath, fmt.Errorf("unknown type: %v", port.Type))}
}

// Resource names upstream treats as standard for containers, and the
// hugepages prefix.
var containerResourceNames = []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage}

const hugePagesPrefix = "hugepages-"

// isNativeResource reports a name without a domain or in kubernetes.io.
func isNativeResource(name corev1.ResourceName) bool {
	return !strings.Contains(string(name), "/") || strings.Contains(string(name), "kubernetes.io/")
}

// isExtendedResource reports a domain-qualified name outside kubernetes.io,
// like example.com/gpu.
func isExtendedResource(name corev1.ResourceName) bool {
	if isNativeResource(name) || strings.HasPrefix(string(name), "requests.") {
		return false
	}
	return len(validation.IsQualifiedName("requests."+string(name))) == 0
}

// isOvercommitAllowed is false for extended resources and hugepages, whose
// requests must equal their limits.
func isOvercommitAllowed(name corev1.ResourceName) bool {
	return isNativeResource(name) && !strings.HasPrefix(string(name), hugePagesPrefix)
}

func validateContainerResourceName(name corev1.ResourceName, fldPath *field.Path) field.ErrorList {
	if errs := invalid(fldPath, name, validation.IsQualifiedName(string(name))); len(errs) > 0 {
		return errs
	}
	if !strings.Contains(string(name), "/") {
		if !slices.Contains(containerResourceNames, name) && !strings.HasPrefix(string(name), hugePagesPrefix) {
			return field.ErrorList{field.Invalid(fldPath, name, "must be a standard resource for containers")}
		}
	} else if !isNativeResource(name) && !isExtendedResource(name) {
		return field.ErrorList{field.Invalid(fldPath, name, "doesn't follow extended resource name standard")}
	}
	return nil
}

// validateResourceRequirements checks names and quantities, that requests
// do not exceed limits, and that non-overcommitable resources have equal
// requests and limits.
func validateResourceRequirements(r *corev1.ResourceRequirements, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	limPath, reqPath := fldPath.Child("limits"), fldPath.Child("requests")
	cpuOrMemory, hugePages := false, false
	note := func(name corev1.ResourceName) {
		cpuOrMemory = cpuOrMemory || name == corev1.ResourceCPU || name == corev1.ResourceMemory
		hugePages = hugePages || strings.HasPrefix(string(name), hugePagesPrefix)
	}
	for _, name := range sortedKeys(r.Limits) {
		p := limPath.Key(string(name))
		allErrs = append(allErrs, validateContainerResourceName(name, p)...)
		allErrs = append(allErrs, validateResourceQuantity(name, r.Limits[name], p)...)
		note(name)
	}
	for _, name := range sortedKeys(r.Requests) {
		q := r.Requests[name]
		p := reqPath.Key(string(name))
		allErrs = append(allErrs, validateContainerResourceName(name, p)...)
		allErrs = append(allErrs, validateResourceQuantity(name, q, p)...)
		if lim, ok := r.Limits[name]; ok {
			if q.Cmp(lim) != 0 && !isOvercommitAllowed(name) {
				allErrs = append(allErrs, field.Invalid(reqPath, q.String(), fmt.Sprintf("must be equal to %s limit of %s", name, lim.String())))
			} else if q.Cmp(lim) > 0 {
				allErrs = append(allErrs, field.Invalid(reqPath, q.String(), fmt.Sprintf("must be less than or equal to %s limit of %s", name, lim.String())))
			}
		} else if !isOvercommitAllowed(name) {
			allErrs = append(allErrs, field.Required(limPath, "Limit must be set for non overcommitable resources"))
		}
		note(name)
	}
	if hugePages && !cpuOrMemory {
		allErrs = append(allErrs, field.Forbidden(fldPath, "HugePages require cpu or memory"))
	}
	return allErrs
}

// validateResourceQuantity rejects negative quantities, and fractional ones
// for resources counted in whole units.
func validateResourceQuantity(name corev1.ResourceName, q resource.Quantity, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if q.Sign() < 0 {
		allErrs = append(allErrs, field.Invalid(fldPath, q.String(), apivalidation.IsNegativeErrorMsg))
	}
	if isIntegerResource(name) && q.MilliValue()%1000 != 0 {
		allErrs = append(allErrs, field.Invalid(fldPath, q, "must be an integer"))
	}
	return allErrs
}

var integerResourceNames = []corev1.ResourceName{
	corev1.ResourcePods, corev1.ResourceQuotas, corev1.ResourceServices, corev1.ResourceReplicationControllers,
	corev1.ResourceSecrets, corev1.ResourceConfigMaps, corev1.ResourcePersistentVolumeClaims,
	corev1.ResourceServicesNodePorts, corev1.ResourceServicesLoadBalancers,
}

func isIntegerResource(name corev1.ResourceName) bool {
	return slices.Contains(integerResourceNames, name) || isExtendedResource(name)
}

func validatePodSecurityContext(spec *corev1.PodSpec, fldPath *field.Path) field.ErrorList {
	sc := spec.SecurityContext
	if sc == nil {
		return nil
	}
	var allErrs field.ErrorList
	if sc.FSGroup != nil {
		allErrs = append(allErrs, invalid(fldPath.Child("fsGroup"), *sc.FSGroup, validation.IsValidGroupID(*sc.FSGroup))...)
	}
	if sc.RunAsUser != nil {
		allErrs = append(allErrs, invalid(fldPath.Child("runAsUser"), *sc.RunAsUser, validation.IsValidUserID(*sc.RunAsUser))...)
	}
	if sc.RunAsGroup != nil {
		allErrs = append(allErrs, invalid(fldPath.Child("runAsGroup"), *sc.RunAsGroup, validation.IsValidGroupID(*sc.RunAsGroup))...)
	}
	for i, g := range sc.SupplementalGroups {
		allErrs = append(allErrs, invalid(fldPath.Child("supplementalGroups").Index(i), g, validation.IsValidGroupID(g))...)
	}
	if spec.ShareProcessNamespace != nil && *spec.ShareProcessNamespace && spec.HostPID {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("shareProcessNamespace"), *spec.ShareProcessNamespace, "ShareProcessNamespace and HostPID cannot both be enabled"))
	}
	names := sets.New[string]()
	for i, s := range sc.Sysctls {
		p := fldPath.Child("sysctls").Index(i).Child("name")
		switch {
		case s.Name == "":
			allErrs = append(allErrs, field.Required(p, ""))
		case len(s.Name) > 253 || !sysctlName.MatchString(s.Name):
			allErrs = append(allErrs, field.Invalid(p, s.Name, fmt.Sprintf("must have at most %d characters and match regex %s", 253, sysctlName)))
		case names.Has(s.Name):
			allErrs = append(allErrs, field.Duplicate(p, s.Name))
		}
		names.Insert(s.Name)
	}
	if p := sc.FSGroupChangePolicy; p != nil {
		valid := []corev1.PodFSGroupChangePolicy{corev1.FSGroupChangeAlways, corev1.FSGroupChangeOnRootMismatch}
		if !slices.Contains(valid, *p) {
			allErrs = append(allErrs, field.NotSupported(fldPath.Child("fsGroupChangePolicy"), *p, valid))
		}
	}
	allErrs = append(allErrs, validateSeccompProfile(sc.SeccompProfile, fldPath.Child("seccompProfile"))...)
	allErrs = append(allErrs, validateAppArmorProfile(sc.AppArmorProfile, fldPath.Child("appArmorProfile"))...)
	if p := sc.SupplementalGroupsPolicy; p != nil {
		allErrs = append(allErrs, validateEnum(fldPath.Child("supplementalGroupsPolicy"), *p, corev1.SupplementalGroupsPolicyMerge, corev1.SupplementalGroupsPolicyStrict)...)
	}
	if p := sc.SELinuxChangePolicy; p != nil {
		valid := []corev1.PodSELinuxChangePolicy{corev1.SELinuxChangePolicyMountOption, corev1.SELinuxChangePolicyRecursive}
		if !slices.Contains(valid, *p) {
			allErrs = append(allErrs, field.NotSupported(fldPath.Child("seLinuxChangePolicy"), *p, valid))
		}
	}
	return allErrs
}

// sysctlName is upstream's sysctl name syntax: dotted or slashed segments.
var sysctlName = regexp.MustCompile(`^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$`)

func validateSecurityContext(sc *corev1.SecurityContext, fldPath *field.Path, hostUsers bool) field.ErrorList {
	if sc == nil {
		return nil
	}
	var allErrs field.ErrorList
	if sc.RunAsUser != nil {
		allErrs = append(allErrs, invalid(fldPath.Child("runAsUser"), *sc.RunAsUser, validation.IsValidUserID(*sc.RunAsUser))...)
	}
	if sc.RunAsGroup != nil {
		allErrs = append(allErrs, invalid(fldPath.Child("runAsGroup"), *sc.RunAsGroup, validation.IsValidGroupID(*sc.RunAsGroup))...)
	}
	if pm := sc.ProcMount; pm != nil {
		allErrs = append(allErrs, validateEnum(fldPath.Child("procMount"), *pm, corev1.DefaultProcMount, corev1.UnmaskedProcMount)...)
		if hostUsers && *pm == corev1.UnmaskedProcMount {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("procMount"), *pm, "`hostUsers` must be false to use `Unmasked`"))
		}
	}
	allErrs = append(allErrs, validateSeccompProfile(sc.SeccompProfile, fldPath.Child("seccompProfile"))...)
	if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		if sc.Privileged != nil && *sc.Privileged {
			allErrs = append(allErrs, field.Invalid(fldPath, sc, "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"))
		}
		if sc.Capabilities != nil && slices.Contains(sc.Capabilities.Add, "CAP_SYS_ADMIN") {
			allErrs = append(allErrs, field.Invalid(fldPath, sc, "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN"))
		}
	}
	return append(allErrs, validateAppArmorProfile(sc.AppArmorProfile, fldPath.Child("appArmorProfile"))...)
}

func validateSeccompProfile(sp *corev1.SeccompProfile, fldPath *field.Path) field.ErrorList {
	if sp == nil {
		return nil
	}
	var allErrs field.ErrorList
	valid := []corev1.SeccompProfileType{corev1.SeccompProfileTypeLocalhost, corev1.SeccompProfileTypeRuntimeDefault, corev1.SeccompProfileTypeUnconfined}
	switch {
	case sp.Type == "":
		allErrs = append(allErrs, field.Required(fldPath.Child("type"), "type is required when seccompProfile is set"))
	case !slices.Contains(valid, sp.Type):
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("type"), sp.Type, valid))
	}
	if sp.Type == corev1.SeccompProfileTypeLocalhost {
		if sp.LocalhostProfile == nil {
			allErrs = append(allErrs, field.Required(fldPath.Child("localhostProfile"), "must be set when seccomp type is Localhost"))
		} else {
			allErrs = append(allErrs, validateLocalDescendingPath(*sp.LocalhostProfile, fldPath.Child("localhostProfile"))...)
		}
	} else if sp.LocalhostProfile != nil {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("localhostProfile"), sp, "can only be set when seccomp type is Localhost"))
	}
	return allErrs
}

func validateAppArmorProfile(ap *corev1.AppArmorProfile, fldPath *field.Path) field.ErrorList {
	if ap == nil {
		return nil
	}
	switch ap.Type {
	case corev1.AppArmorProfileTypeLocalhost:
		switch lp := ap.LocalhostProfile; {
		case lp == nil || *lp == "":
			return field.ErrorList{field.Required(fldPath.Child("localhostProfile"), "must be set when AppArmor type is Localhost")}
		case strings.TrimSpace(*lp) != *lp:
			return field.ErrorList{field.Invalid(fldPath.Child("localhostProfile"), *lp, "must not be padded with whitespace")}
		case len(*lp) > 4095:
			return field.ErrorList{field.TooLong(fldPath.Child("localhostProfile"), "", 4095)}
		}
	case corev1.AppArmorProfileTypeRuntimeDefault, corev1.AppArmorProfileTypeUnconfined:
		if ap.LocalhostProfile != nil {
			return field.ErrorList{field.Invalid(fldPath.Child("localhostProfile"), ap.LocalhostProfile, "can only be set when AppArmor type is Localhost")}
		}
	case "":
		return field.ErrorList{field.Required(fldPath.Child("type"), "type is required when appArmorProfile is set")}
	default:
		return field.ErrorList{field.NotSupported(fldPath.Child("type"), ap.Type,
			[]corev1.AppArmorProfileType{corev1.AppArmorProfileTypeLocalhost, corev1.AppArmorProfileTypeRuntimeDefault, corev1.AppArmorProfileTypeUnconfined})}
	}
	return nil
}

func validateAffinity(a *corev1.Affinity, fldPath *field.Path) field.ErrorList {
	if a == nil {
		return nil
	}
	var allErrs field.ErrorList
	if na := a.NodeAffinity; na != nil {
		np := fldPath.Child("nodeAffinity")
		if r := na.RequiredDuringSchedulingIgnoredDuringExecution; r != nil {
			allErrs = append(allErrs, validateNodeSelector(r, np.Child("requiredDuringSchedulingIgnoredDuringExecution"))...)
		}
		for i, t := range na.PreferredDuringSchedulingIgnoredDuringExecution {
			p := np.Child("preferredDuringSchedulingIgnoredDuringExecution").Index(i)
			if t.Weight <= 0 || t.Weight > 100 {
				allErrs = append(allErrs, field.Invalid(p.Child("weight"), t.Weight, "must be in the range 1-100"))
			}
			allErrs = append(allErrs, validateNodeSelectorTerm(t.Preference, true, p.Child("preference"))...)
		}
	}
	if pa := a.PodAffinity; pa != nil {
		allErrs = append(allErrs, validatePodAffinityTerms(pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution, fldPath.Child("podAffinity"))...)
	}
	if pa := a.PodAntiAffinity; pa != nil {
		allErrs = append(allErrs, validatePodAffinityTerms(pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution, fldPath.Child("podAntiAffinity"))...)
	}
	return allErrs
}

func validateNodeSelector(ns *corev1.NodeSelector, fldPath *field.Path) field.ErrorList {
	termPath := fldPath.Child("nodeSelectorTerms")
	if len(ns.NodeSelectorTerms) == 0 {
		return field.ErrorList{field.Required(termPath, "must have at least one node selector term")}
	}
	var allErrs field.ErrorList
	for i, t := range ns.NodeSelectorTerms {
		allErrs = append(allErrs, validateNodeSelectorTerm(t, false, termPath.Index(i))...)
	}
	return allErrs
}

func validateNodeSelectorTerm(t corev1.NodeSelectorTerm, allowInvalidValues bool, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for j, r := range t.MatchExpressions {
		p := fldPath.Child("matchExpressions").Index(j)
		switch r.Operator {
		case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
			if len(r.Values) == 0 {
				allErrs = append(allErrs, field.Required(p.Child("values"), "must be specified when `operator` is 'In' or 'NotIn'"))
			}
		case corev1.NodeSelectorOpExists, corev1.NodeSelectorOpDoesNotExist:
			if len(r.Values) > 0 {
				allErrs = append(allErrs, field.Forbidden(p.Child("values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
			}
		case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
			if len(r.Values) != 1 {
				allErrs = append(allErrs, field.Required(p.Child("values"), "must be specified single value when `operator` is 'Lt' or 'Gt'"))
			}
		default:
			allErrs = append(allErrs, field.Invalid(p.Child("operator"), r.Operator, "not a valid selector operator"))
		}
		allErrs = append(allErrs, metavalidation.ValidateLabelName(r.Key, p.Child("key"))...)
		if !allowInvalidValues {
			for k, v := range r.Values {
				allErrs = append(allErrs, invalid(p.Child("values").Index(k), v, validation.IsValidLabelValue(v))...)
			}
		}
	}
	for j, r := range t.MatchFields {
		p := fldPath.Child("matchFields").Index(j)
		if r.Operator != corev1.NodeSelectorOpIn && r.Operator != corev1.NodeSelectorOpNotIn {
			allErrs = append(allErrs, field.Invalid(p.Child("operator"), r.Operator, "not a valid selector operator"))
		} else if len(r.Values) != 1 {
			allErrs = append(allErrs, field.Required(p.Child("values"), "must be only one value when `operator` is 'In' or 'NotIn' for node field selector"))
		}
		if r.Key != metav1.ObjectNameField {
			allErrs = append(allErrs, field.Invalid(p.Child("key"), r.Key, "not a valid field selector key"))
		} else {
			for k, v := range r.Values {
				allErrs = append(allErrs, invalid(p.Child("values").Index(k), v, apivalidation.NameIsDNSSubdomain(v, false))...)
			}
		}
	}
	return allErrs
}

func validatePodAffinityTerms(required []corev1.PodAffinityTerm, preferred []corev1.WeightedPodAffinityTerm, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, t := range required {
		allErrs = append(allErrs, validatePodAffinityTerm(t, fldPath.Child("requiredDuringSchedulingIgnoredDuringExecution").Index(i))...)
	}
	for i, t := range preferred {
		p := fldPath.Child("preferredDuringSchedulingIgnoredDuringExecution").Index(i)
		if t.Weight <= 0 || t.Weight > 100 {
			allErrs = append(allErrs, field.Invalid(p.Child("weight"), t.Weight, "must be in the range 1-100"))
		}
		allErrs = append(allErrs, validatePodAffinityTerm(t.PodAffinityTerm, p.Child("podAffinityTerm"))...)
	}
	return allErrs
}

func validatePodAffinityTerm(t corev1.PodAffinityTerm, fldPath *field.Path) field.ErrorList {
	allErrs := metavalidation.ValidateLabelSelector(t.LabelSelector, metavalidation.LabelSelectorValidationOptions{}, fldPath.Child("labelSelector"))
	allErrs = append(allErrs, metavalidation.ValidateLabelSelector(t.NamespaceSelector, metavalidation.LabelSelectorValidationOptions{}, fldPath.Child("namespaceSelector"))...)
	for _, ns := range t.Namespaces {
		allErrs = append(allErrs, invalid(fldPath.Child("namespace"), ns, apivalidation.ValidateNamespaceName(ns, false))...)
	}
	if t.TopologyKey == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("topologyKey"), "can not be empty"))
	}
	return append(allErrs, metavalidation.ValidateLabelName(t.TopologyKey, fldPath.Child("topologyKey"))...)
}

func validateDNSConfig(c *corev1.PodDNSConfig, policy corev1.DNSPolicy, fldPath *field.Path) field.ErrorList {
	if policy == corev1.DNSNone {
		if c == nil {
			return field.ErrorList{field.Required(fldPath, "must provide `dnsConfig` when `dnsPolicy` is None")}
		}
		if len(c.Nameservers) == 0 {
			return field.ErrorList{field.Required(fldPath.Child("nameservers"), "must provide at least one DNS nameserver when `dnsPolicy` is None")}
		}
	}
	if c == nil {
		return nil
	}
	var allErrs field.ErrorList
	if len(c.Nameservers) > 3 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("nameservers"), c.Nameservers, "must not have more than 3 nameservers"))
	}
	for i, ns := range c.Nameservers {
		allErrs = append(allErrs, validation.IsValidIP(fldPath.Child("nameservers").Index(i), ns)...)
	}
	if len(c.Searches) > 32 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("searches"), c.Searches, "must not have more than 32 search paths"))
	}
	if len(strings.Join(c.Searches, " ")) > 2048 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("searches"), c.Searches, "must not have more than 2048 characters (including spaces) in the search list"))
	}
	for i, s := range c.Searches {
		if s != "." {
			s = strings.TrimSuffix(s, ".")
			allErrs = append(allErrs, invalid(fldPath.Child("searches").Index(i), s, validation.IsDNS1123SubdomainWithUnderscore(s))...)
		}
	}
	for i, o := range c.Options {
		if o.Name == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("options").Index(i), "must not be empty"))
		}
	}
	return allErrs
}

func validateTolerations(tolerations []corev1.Toleration, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, t := range tolerations {
		p := fldPath.Index(i)
		if t.Key != "" {
			allErrs = append(allErrs, metavalidation.ValidateLabelName(t.Key, p.Child("key"))...)
		}
		if t.Key == "" && t.Operator != corev1.TolerationOpExists {
			allErrs = append(allErrs, field.Invalid(p.Child("operator"), t.Operator, "operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
		}
		if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
			allErrs = append(allErrs, field.Invalid(p.Child("effect"), t.Effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
		}
		switch t.Operator {
		case corev1.TolerationOpEqual, "":
			if errs := validation.IsValidLabelValue(t.Value); len(errs) != 0 {
				allErrs = append(allErrs, field.Invalid(p.Child("operator"), t.Value, strings.Join(errs, ";")))
			}
		case corev1.TolerationOpExists:
			if t.Value != "" {
				allErrs = append(allErrs, field.Invalid(p.Child("operator"), t.Value, "value must be empty when `operator` is 'Exists'"))
			}
		default:
			allErrs = append(allErrs, field.NotSupported(p.Child("operator"), t.Operator, []corev1.TolerationOperator{corev1.TolerationOpEqual, corev1.TolerationOpExists}))
		}
		if t.Effect != "" {
			allErrs = append(allErrs, validateTaintEffect(t.Effect, p.Child("effect"))...)
		}
	}
	return allErrs
}

var taintEffects = []corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute}

func validateTaintEffect(e corev1.TaintEffect, fldPath *field.Path) field.ErrorList {
	return validateEnum(fldPath, e, taintEffects...)
}

func validateTopologySpreadConstraints(constraints []corev1.TopologySpreadConstraint, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, c := range constraints {
		p := fldPath.Index(i)
		if c.MaxSkew <= 0 {
			allErrs = append(allErrs, field.Invalid(p.Child("maxSkew"), c.MaxSkew, "must be greater than zero"))
		}
		if c.TopologyKey == "" {
			allErrs = append(allErrs, field.Required(p.Child("topologyKey"), "can not be empty"))
		} else {
			allErrs = append(allErrs, metavalidation.ValidateLabelName(c.TopologyKey, p.Child("topologyKey"))...)
		}
		allErrs = append(allErrs, validateEnum(p.Child("whenUnsatisfiable"), c.WhenUnsatisfiable, corev1.DoNotSchedule, corev1.ScheduleAnyway)...)
		for _, later := range constraints[i+1:] {
			if c.TopologyKey == later.TopologyKey && c.WhenUnsatisfiable == later.WhenUnsatisfiable {
				allErrs = append(allErrs, field.Duplicate(p.Child("{topologyKey, whenUnsatisfiable}"), fmt.Sprintf("{%v, %v}", c.TopologyKey, c.WhenUnsatisfiable)))
				break
			}
		}
		if m := c.MinDomains; m != nil {
			if *m <= 0 {
				allErrs = append(allErrs, field.Invalid(p.Child("minDomains"), *m, "must be greater than zero"))
			}
			if c.WhenUnsatisfiable != corev1.DoNotSchedule {
				allErrs = append(allErrs, field.Invalid(p.Child("minDomains"), *m,
					fmt.Sprintf("can only use minDomains if whenUnsatisfiable=%s, not %s", corev1.DoNotSchedule, c.WhenUnsatisfiable)))
			}
		}
		allErrs = append(allErrs, metavalidation.ValidateLabelSelector(c.LabelSelector, metavalidation.LabelSelectorValidationOptions{}, p.Child("labelSelector"))...)
		for _, np := range []struct {
			name string
			v    *corev1.NodeInclusionPolicy
		}{{"nodeAffinityPolicy", c.NodeAffinityPolicy}, {"nodeTaintsPolicy", c.NodeTaintsPolicy}} {
			if np.v != nil {
				allErrs = append(allErrs, validateEnum(p.Child(np.name), *np.v, corev1.NodeInclusionPolicyHonor, corev1.NodeInclusionPolicyIgnore)...)
			}
		}
	}
	return allErrs
}
