// PodNet module
