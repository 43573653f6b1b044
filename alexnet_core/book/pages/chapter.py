"""What every chapter notebook does first: check its parameters, set the style, say the profile."""
from __future__ import annotations

import contextlib
import html
import io
from dataclasses import dataclass, field

from alexnet_core.book.engine import measures as A
from alexnet_core.book.pages import tables as T
from alexnet_core.book.engine.plan import EXPERIMENTS, PROFILES, Experiment, get_experiment, profile_for
from alexnet_core.book.engine.records import book_runs, recorded_runs
from alexnet_core.book.engine.run import run_experiment
from alexnet_core.book.engine.judge import seed_noise
from alexnet_core.book.pages.style import ablation_figure, pending_figure, use_style

DEVICES = ("auto", "cpu", "cuda")
#: A glossary term's address from a chapter page (book/generated/) : the introduction's glossary.
GLOSSARY_LINK = "../intro.html#term-"


@dataclass
class Chapter:
    """A chapter's parameters, checked; ``runs(name)`` gives an experiment's run records."""

    profile: str
    data_root: str | None
    device: str
    retrain: bool
    _noise: dict = field(default_factory=dict, repr=False)  # family -> its spreads, read once per chapter

    @property
    def smoke(self) -> bool:
        return self.profile == "smoke"

    def source(self, experiment: str) -> str:
        """The profile whose records an experiment shows (the gpu profile takes CIFAR-10 from cpu)."""
        return profile_for(experiment, self.profile).name

    def label_for(self, experiment: str) -> str:
        """A figure's profile label for ``experiment``."""
        return f", {self.source(experiment)}"

    def runs(self, experiment: str, note: bool = True) -> list[dict]:
        """The experiment's run records, training what is missing; the training log is kept out of the
        page (it is in each run's history) and shown only if training fails. ``note``: say on the
        page when the runs come from another profile than the chapter's."""
        source = self.source(experiment)
        if get_experiment(experiment).pending and not self.smoke and not self.retrain:
            return recorded_runs(experiment, source)  # still being recorded: shown as far as it goes
        if source != self.profile and note:
            _provenance_note(get_experiment(experiment).title, source, self.profile)
        log = io.StringIO()
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                return run_experiment(experiment, self.profile, data_root=self.data_root, device=self.device,
                                      retrain=self.retrain, progress=False)
        except BaseException:
            print(log.getvalue()[-5000:])
            raise

    def ablation(self, name: str, figure: bool = True) -> Ablation:
        """An experiment's runs (trained when missing), its figure glued as ``fig_<name>``, and
        each effect's size and verdict glued as ``<name>_effect_<i>`` and ``<name>_verdict_<i>``."""
        import matplotlib.pyplot as plt

        experiment = get_experiment(name)
        records = self.runs(name)
        groups = A.by_variant(records)
        expected = len(book_runs(name, self.source(name)))
        if figure:
            fig = (ablation_figure(groups, self.label_for(name)) if len(records) == expected
                   else pending_figure(len(records), expected, name, self.source(name)))
            _glue(f"fig_{name}", fig)
            plt.close(fig)
        effects = T.effect_table(experiment, records, self.smoke, self.noise(experiment.family), expected)
        for i, row in effects.iterrows():
            _glue(f"{name}_effect_{i}", row["ours"])
            _glue(f"{name}_verdict_{i}", row["verdict"])
        return Ablation(experiment, records, groups, effects)

    def noise(self, family: str) -> dict:
        """The spreads the verdicts of ``family`` use in the profile this chapter shows
        (:func:`judge.seed_noise`): per metric, how far one run moves between seeds, pooled over every
        configuration recorded under several seeds, and (``.paired``) how far a paired difference moves,
        pooled over the family's claims of each kind and run length."""
        if self.smoke:
            return {}
        if family not in self._noise:  # every record of the family is read: once per chapter, not per call
            first = next(exp for exp in EXPERIMENTS.values() if exp.family == family).name
            self._noise[family] = seed_noise(family, self.source(first))
        return self._noise[family]

    def banner(self):
        """A warning box on smoke-profile pages; an empty note otherwise."""
        from IPython.display import HTML

        if not self.smoke:
            prof = PROFILES[self.profile]
            also = (f" Experiments it does not run itself show the <code>{prof.fallback}</code> profile's records, "
                    "and say so." if prof.fallback else "")
            return HTML(f'<div class="admonition note"><p class="admonition-title">Profile: {prof.name}</p>'
                        f"<p>These numbers come from the <code>{prof.name}</code> "
                        f'<a href="{GLOSSARY_LINK}profile">profile</a>: {prof.description}.{also}</p></div>')
        return HTML('<div class="admonition warning"><p class="admonition-title">Smoke test</p>'
                    "<p>Smoke test: these numbers only show that the code runs.</p></div>")


@dataclass
class Ablation:
    """One experiment's measurement as a chapter shows it: the runs, grouped by variant, and
    the effects with their verdicts (see :meth:`Chapter.ablation`)."""

    experiment: Experiment
    records: list[dict]
    groups: dict[str, list[dict]]
    effects: "object"  # a pandas DataFrame: pandas is a book dependency, imported where used

    def variant_table(self):
        """Per variant: final and best errors, over seeds (a styled table for the page)."""
        return T.variant_table(self.groups).style.hide(axis="index").set_caption(VARIANT_TABLE_CAPTION)

    def effect_table(self):
        """Per effect: ours against the paper's, and the verdict (a styled table for the page),
        captioned with what its "epochs at chance" column counts."""
        return self.effects.style.hide(axis="index").set_caption(EFFECT_TABLE_CAPTION)


def _provenance_note(title: str, source: str, profile: str) -> None:
    """Say on the page, under the banner naming ``profile``, that one experiment's runs come from another."""
    _admonition("note", f"Runs from the {source} profile",
                f"The runs of <em>{html.escape(title)}</em> come from the <code>{source}</code> profile "
                f"({html.escape(PROFILES[source].description)}), since the <code>{profile}</code> profile "
                "does not run this experiment.")


def _admonition(kind: str, title: str, body: str) -> None:
    """Display a box of the theme's ``kind`` (note, warning) with ``title`` and the HTML ``body``."""
    from IPython.display import HTML, display

    display(HTML(f'<div class="admonition {kind}"><p class="admonition-title">{title}</p><p>{body}</p></div>'))


#: Every chapter's variant table says what its ± is, since the effect table's differs.
VARIANT_TABLE_CAPTION = ("± : the standard error of the mean over this variant's own seeds. The effects below are "
                         "judged by another error: that of the paired differences, pooled over claims.")
#: Every chapter's effect table says what its ± is, and defines the one column a reader could not guess.
EFFECT_TABLE_CAPTION = ("Ours: the mean over seeds of the paired differences ± the standard error the verdict uses "
                        "(the spread of paired differences pooled over the family's claims of this kind and run length, with the "
                        "validation images' own error; a claim marked unpaired uses the spread of single runs instead). Epochs at chance: the first epochs in which a run's "
                        "validation error stayed within three points of chance (mean over its runs, with the "
                        "paper's design / without it).")


def _glue(name: str, value) -> None:
    """Store ``value`` for the page's ``{glue}`` roles and figures (myst-nb, a book dependency)."""
    from myst_nb import glue

    glue(name, value, display=False)


def setup(profile: str, data_root: str | None = None, device: str = "auto", retrain: bool = False) -> Chapter:
    """Check the papermill parameters and apply the plot style; a bad value is a clear error."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: the notebooks take profile = one of {', '.join(PROFILES)}")
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}: choose one of {', '.join(DEVICES)}")
    if not isinstance(retrain, bool):
        raise ValueError(f"retrain must be True or False, got {retrain!r}")
    if data_root is not None and not isinstance(data_root, str):
        raise ValueError(f"data_root must be a path string or None, got {data_root!r}")
    use_style()
    return Chapter(profile, data_root, device, retrain)
