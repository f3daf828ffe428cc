package node

import (
	corev1 "k8s.io/api/core/v1"
)

// podRefs are the objects one pod references, by kind, in its namespace.
type podRefs struct {
	secrets, configMaps, claims []string
	serviceAccount              string
}

// refsOf lists what pod references, as upstream's graph populator.
func refsOf(pod *corev1.Pod) podRefs {
	var r podRefs
	r.serviceAccount = pod.Spec.ServiceAccountName
	for _, s := range pod.Spec.ImagePullSecrets {
		r.secrets = append(r.secrets, s.Name)
	}
	containers := append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...)
	for _, e := range pod.Spec.EphemeralContainers {
		containers = append(containers, corev1.Container{Env: e.Env, EnvFrom: e.EnvFrom})
	}
	for _, c := range containers {
		for _, e := range c.EnvFrom {
			if e.SecretRef != nil {
				r.secrets = append(r.secrets, e.SecretRef.Name)
			}
			if e.ConfigMapRef != nil {
				r.configMaps = append(r.configMaps, e.ConfigMapRef.Name)
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			if e.ValueFrom.SecretKeyRef != nil {
				r.secrets = append(r.secrets, e.ValueFrom.SecretKeyRef.Name)
			}
			if e.ValueFrom.ConfigMapKeyRef != nil {
				r.configMaps = append(r.configMaps, e.ValueFrom.ConfigMapKeyRef.Name)
			}
		}
	}
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.Secret != nil:
			r.secrets = append(r.secrets, v.Secret.SecretName)
		case v.ConfigMap != nil:
			r.configMaps = append(r.configMaps, v.ConfigMap.Name)
		case v.Projected != nil:
			for _, s := range v.Projected.Sources {
				if s.Secret != nil {
					r.secrets = append(r.secrets, s.Secret.Name)
				}
				if s.ConfigMap != nil {
					r.configMaps = append(r.configMaps, s.ConfigMap.Name)
				}
			}
		case v.PersistentVolumeClaim != nil:
			r.claims = append(r.claims, v.PersistentVolumeClaim.ClaimName)
		case v.Ephemeral != nil:
			// The claim of a generic ephemeral volume is named for the pod
			// and the volume.
			r.claims = append(r.claims, pod.Name+"-"+v.Name)
		}
		r.secrets = append(r.secrets, volumeSecrets(v.VolumeSource)...)
	}
	return r
}

// volumeSecrets are the Secrets an in-tree or CSI pod volume names for its
// credentials.
func volumeSecrets(v corev1.VolumeSource) []string {
	var out []string
	add := func(ref *corev1.LocalObjectReference) {
		if ref != nil && ref.Name != "" {
			out = append(out, ref.Name)
		}
	}
	switch {
	case v.AzureFile != nil:
		out = append(out, v.AzureFile.SecretName)
	case v.CephFS != nil:
		add(v.CephFS.SecretRef)
	case v.Cinder != nil:
		add(v.Cinder.SecretRef)
	case v.FlexVolume != nil:
		add(v.FlexVolume.SecretRef)
	case v.ISCSI != nil:
		add(v.ISCSI.SecretRef)
	case v.RBD != nil:
		add(v.RBD.SecretRef)
	case v.ScaleIO != nil:
		add(v.ScaleIO.SecretRef)
	case v.StorageOS != nil:
		add(v.StorageOS.SecretRef)
	case v.CSI != nil:
		add(v.CSI.NodePublishSecretRef)
	}
	return out
}

// pvSecrets are the Secrets a PersistentVolume names for its credentials,
// with their namespaces.
func pvSecrets(pv *corev1.PersistentVolume) []corev1.SecretReference {
	var out []corev1.SecretReference
	add := func(ref *corev1.SecretReference) {
		if ref != nil && ref.Name != "" {
			out = append(out, *ref)
		}
	}
	s := pv.Spec.PersistentVolumeSource
	switch {
	case s.CSI != nil:
		add(s.CSI.NodePublishSecretRef)
		add(s.CSI.NodeStageSecretRef)
		add(s.CSI.NodeExpandSecretRef)
		add(s.CSI.ControllerPublishSecretRef)
		add(s.CSI.ControllerExpandSecretRef)
	case s.CephFS != nil:
		add(s.CephFS.SecretRef)
	case s.Cinder != nil:
		add(s.Cinder.SecretRef)
	case s.FlexVolume != nil:
		add(s.FlexVolume.SecretRef)
	case s.ISCSI != nil:
		add(s.ISCSI.SecretRef)
	case s.RBD != nil:
		add(s.RBD.SecretRef)
	case s.ScaleIO != nil:
		add(s.ScaleIO.SecretRef)
	case s.StorageOS != nil && s.StorageOS.SecretRef != nil:
		out = append(out, corev1.SecretReference{Name: s.StorageOS.SecretRef.Name, Namespace: s.StorageOS.SecretRef.Namespace})
	case s.AzureFile != nil:
		ns := ""
		if s.AzureFile.SecretNamespace != nil {
			ns = *s.AzureFile.SecretNamespace
		}
		out = append(out, corev1.SecretReference{Name: s.AzureFile.SecretName, Namespace: ns})
	}
	return out
}
