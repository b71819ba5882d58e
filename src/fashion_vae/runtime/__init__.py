"""What the run gets from this machine: cores, threads, dtype, batch split, devices."""
