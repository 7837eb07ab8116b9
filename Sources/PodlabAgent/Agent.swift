// Control plane
