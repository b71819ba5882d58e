"""`kedro explore`: a local web page over a stored model's latent space.

The arithmetic (`latent_space`, `latent_map`) and what each control of the page does
(`explorer`) are plain functions, tested without a browser; `app` only wires them into Gradio,
which `launcher` imports when the command runs, so that `kedro --help` does not.
"""
