"""What each section of metrics.json measures, in words written beside its figures."""

BINARIZED_PROTOCOL = (
    "Every test image binarized once, each pixel drawn as a Bernoulli of its intensity (NumPy, "
    "binarize_seed); n_images of them scored (all 10,000, or a random sample fixed by "
    "binarize_seed: an unbiased estimate of the whole set's figure); -log p(x) estimated by "
    "importance sampling with importance_samples draws from the encoder's posterior of the "
    "binarized image (the IWAE bound, which tends to -log p(x) as the draws grow). Published "
    "Fashion-MNIST tables use this protocol with all 10,000 images and 5,000 draws, on models "
    "trained on binarized images (here: training.binarize: dynamic, which the autoregressive "
    "preset's auto resolves to)."
)
AUTOREGRESSIVE_NOTE = (
    "The decoder is autoregressive: each pixel's logit is given the earlier pixels, here the "
    "test images' grey levels, while it was trained on 0/1 pixels. Compare such a model by "
    "binarized_log_likelihood, which scores it on the 0/1 images it models."
)
LIKELIHOOD_NOTE = (
    "Bernoulli likelihood on continuous pixels in [0, 1] (binary cross-entropy): not a "
    "normalized density for grey levels, so it cannot go below the data's own summed pixel "
    "binary entropy, reported as data_entropy_floor."
)
FID_DESCRIPTION = (
    "Fréchet distance in the feature space of a Fashion-MNIST classifier (not Inception FID)"
)
FID_REFERENCE_DESCRIPTION = (
    "The same distance between the real validation images and the real test images: what "
    "real data scores, with the bias of a smaller sample."
)
CLASS_CONDITIONAL_DESCRIPTION = (
    "Share of the images drawn from each class's latent mixture that the classifier assigns to "
    "that class (per_class), and its mean over the classes (accuracy); real_per_class is what "
    "the real test images of each class score. The draws are at temperature: each mixture "
    "component's spread scaled by it (1: as fitted)."
)
