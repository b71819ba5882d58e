"""Wiring of the sweep pipeline: the training, latent_density and evaluate pipelines, reused.

Each member of `sweep.members` is a modular-pipeline copy of those three pipelines in its own
namespace (Kedro's `pipeline(..., namespace=...)`): its model, density, metrics and figures
are `<member>.<dataset>` (the catalog's `{member}.*` patterns version them under the member's
name), its training parameters `params:<member>.training` (see `members.py`), and it shares
only the model inputs, the feature classifier and the other parameters. Members share
no state, so runners and orchestrators can run them side by side.
"""

from kedro.pipeline import Pipeline, node, pipeline

from fashion_vae.pipelines.evaluate import create_pipeline as evaluate_pipeline
from fashion_vae.pipelines.latent_density import create_pipeline as latent_density_pipeline
from fashion_vae.pipelines.sweep.members import Member, configured_members
from fashion_vae.pipelines.training import create_pipeline as training_pipeline

from .nodes import compare_members, plot_comparison, plot_latent_space, summarize_member

# The parameter each member has its own copy of; every other input is shared.
MEMBER_PARAMETERS = {"params:training"}


def member_pipeline(member: Member) -> Pipeline:
    """Train, fit the latent density, evaluate and summarize one member, in its namespace."""
    template = training_pipeline() + latent_density_pipeline() + evaluate_pipeline()
    template += pipeline(
        [
            node(
                summarize_member,
                ["metrics", "training_history"],
                "sweep_summary",
                name="summarize_member",
            )
        ]
    )
    if member.latent_dim == 2:
        template += pipeline(
            [
                node(
                    plot_latent_space,
                    ["vae_model", "test_posterior_mean", "test_labels", "params:sweep"],
                    "latent_space_figure",
                    name="plot_latent_space",
                )
            ]
        )
    shared = {name for name in template.inputs() if name not in MEMBER_PARAMETERS}
    return pipeline(
        template,
        namespace=member.name,
        inputs={name for name in shared if not name.startswith("params:")},
        # Read by the comparison, outside the member's namespace: a name without a dot, which
        # Kedro reserves for namespaces.
        outputs={"sweep_summary": summary_name(member)},
        parameters={name: name for name in shared if name.startswith("params:")},
    )


def summary_name(member: Member) -> str:
    """The dataset of a member's row of the comparison."""
    return f"{member.name}_sweep_summary"


def create_pipeline(**kwargs) -> Pipeline:
    """Every member of `sweep.members`, then their comparison table and figure."""
    members = configured_members()
    comparison = pipeline(
        [
            node(
                compare_members,
                {
                    "sweep": "params:sweep",
                    **{member.name: summary_name(member) for member in members},
                },
                "sweep_comparison",
                name="compare_members",
            ),
            node(
                plot_comparison,
                "sweep_comparison",
                "sweep_comparison_figure",
                name="plot_comparison",
            ),
        ],
        namespace="sweep",
        prefix_datasets_with_namespace=False,
    )
    return sum((member_pipeline(member) for member in members), Pipeline([])) + comparison
