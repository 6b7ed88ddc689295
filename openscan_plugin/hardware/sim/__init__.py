"""A simulated rig: mock pins drive simulated motors, a ray-cast camera renders the object."""
