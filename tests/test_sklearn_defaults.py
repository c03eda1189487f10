"""Every exported estimator against scikit-learn's whole estimator suite at its DEFAULT settings.

Only ``max_epochs=2, batch_size=16, random_state=0`` are changed (a user's quick try); the other
test files run the suite on tuned settings. Expected failures carry the reason a reviewer reads.
"""

import warnings

from sklearn.utils.estimator_checks import parametrize_with_checks

import skecho

NAMES = ("EchoAutoencoder", "BetaVAE", "InfoVAE", "FactorVAE", "IMAE", "JointVAE",
         "HybridBetaVAE", "HybridInfoVAE")
HYBRIDS = ("IMAE", "JointVAE", "HybridBetaVAE", "HybridInfoVAE")

#: The one check a hybrid model is expected to fail at these settings, and why.
CLUSTERING_REASON = (
    "check_clustering asks that every cluster index between the smallest and the largest label "
    "be used after fitting 50 points of 3 blobs; labels_ are the indices of the model's "
    "n_categories categories, and after 2 epochs (on 50 samples: 6 steps) some categories are "
    "still empty, as a mixture model's components can be; the labels are not renumbered, since "
    "inverse_transform and sample take category indices"
)


def _expected_failures(estimator):
    if type(estimator).__name__ in HYBRIDS:
        return {"check_clustering": CLUSTERING_REASON}
    return {}


@parametrize_with_checks(
    [getattr(skecho, name)(max_epochs=2, batch_size=16, random_state=0) for name in NAMES],
    expected_failed_checks=_expected_failures,
)
def test_estimator_suite_at_default_settings(estimator, check):
    with warnings.catch_warnings():
        # the tiny inputs of the suite trigger the batch-size and likelihood warnings
        warnings.simplefilter("ignore", UserWarning)
        check(estimator)
