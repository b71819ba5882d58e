"""`python -m fashion_vae.serving --run <run id>`: see `fashion_vae.serving.server`."""

from fashion_vae.serving.server import main

main()
