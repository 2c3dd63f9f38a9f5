"""One registry of the literature cited by retrogait and ``docs/methods.md``.

Every reference cited in ``docs/methods.md`` (as ``[Key]``) and every
``.. [Key]`` label of a numpydoc docstring under ``src/retrogait`` is a key
of :data:`REFERENCES`; the report's reference list is built from it with
:func:`bibliography`, so a citation is written once.

A DOI is given only where it was checked against a public record of the
paper (publisher, PubMed, Crossref-derived listings). Otherwise the entry
has ``doi=""`` and a ``url`` (a public abstract page, a stable archive page
or a PubMed search), and ``note`` says that the DOI was not verified.

Citations that appear in code comments or labels but are not in the
registry, with the reason, are listed in :data:`UNREGISTERED_CITATIONS`.

Examples
--------
>>> format_reference(reference("Holm1979"))
'Holm S (1979). A simple sequentially rejective multiple test procedure. Scand J Stat 6(2):65-70. https://www.jstor.org/stable/4615733'
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "Reference",
    "REFERENCES",
    "UNREGISTERED_CITATIONS",
    "DOI_PATTERN",
    "reference",
    "format_reference",
    "bibliography",
]

#: What a DOI looks like: ``10.<registrant>/<suffix>`` (Crossref's recommended
#: pattern, widened to the SICI-style suffixes of older Wiley DOIs).
DOI_PATTERN = re.compile(r"^10\.\d{4,9}/\S+$")

_KEY_PATTERN = re.compile(r"^[A-Za-z][A-Za-z]*\d{4}[a-z]?$")


@dataclass(frozen=True)
class Reference:
    """One bibliographic reference.

    Parameters
    ----------
    key : str
        Citation key, ``<FirstAuthor[SecondAuthor]><year>`` (e.g. ``"Zeni2008"``,
        ``"FalconerWinter1985"``); the label used in ``[Key]`` citations.
    authors : str
        Authors in Vancouver style (``"Zeni JA Jr, Richards JG, Higginson JS"``).
    year : int
        Year of publication.
    title : str
        Title of the article, chapter or book.
    journal : str
        Journal (abbreviated) or, for a book, the publisher.
    volume_pages : str
        Volume(issue):pages, article number or edition; empty for books
        without one.
    doi : str
        DOI without the ``https://doi.org/`` prefix; empty when none was
        verified.
    url : str
        Stable URL; used when there is no DOI.
    note : str
        What the reference supports in retrogait, or a caveat (e.g. DOI not
        verified).
    """

    key: str
    authors: str
    year: int
    title: str
    journal: str
    volume_pages: str = ""
    doi: str = ""
    url: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        if not _KEY_PATTERN.match(self.key):
            raise ValueError(f"reference key {self.key!r} must look like 'Author2008'")
        if not str(self.key).endswith(str(self.year)) and not self.key[:-1].endswith(str(self.year)):
            raise ValueError(f"reference key {self.key!r} does not end with its year {self.year}")
        if self.doi and not DOI_PATTERN.match(self.doi):
            raise ValueError(f"reference {self.key}: {self.doi!r} does not look like a DOI")
        if not (self.doi or self.url):
            raise ValueError(f"reference {self.key}: give a DOI or a URL")


def _pubmed_search(terms: str) -> str:
    return "https://pubmed.ncbi.nlm.nih.gov/?term=" + "+".join(terms.split())


_UNVERIFIED_DOI = "DOI not verified; URL given instead"

_ALL = [
    # ---------------------------------------------------------------- gait events
    Reference("Zeni2008", "Zeni JA Jr, Richards JG, Higginson JS", 2008,
              "Two simple methods for determining gait events during treadmill and overground walking "
              "using kinematic data", "Gait Posture", "27(4):710-714", doi="10.1016/j.gaitpost.2007.07.007",
              note="kinematic event detection (coordinate method); docs/methods.md §4.2"),
    Reference("OConnor2007", "O'Connor CM, Thorpe SK, O'Malley MJ, Vaughan CL", 2007,
              "Automatic detection of gait events using kinematic data", "Gait Posture", "25(3):469-474",
              doi="10.1016/j.gaitpost.2006.05.016", note="foot-velocity algorithm; NOT implemented (§4.3)"),
    Reference("Gottlieb2020", "Gottlieb U, Balasukumaran T, Hoffman JR, Springer S", 2020,
              "Agreement of gait events detection during treadmill backward walking by kinematic data and "
              "inertial motion units", "Sensors", "20(21):6331", doi="10.3390/s20216331",
              note="backward walking: toe-first contact, heel-last foot-off; §4.4"),
    Reference("Winter1991", "Winter DA", 1991,
              "The Biomechanics and Motor Control of Human Gait: Normal, Elderly and Pathological, 2nd ed",
              "University of Waterloo Press", "",
              url="https://search.worldcat.org/search?q=Winter+Biomechanics+and+Motor+Control+of+Human+Gait+1991",
              note="joint power = moment x angular velocity; K1 knee absorption in the loading response and A2 "
                   "ankle push-off of forward walking: the sign checks of §0.4; no DOI exists"),
    Reference("Winter2009", "Winter DA", 2009, "Biomechanics and Motor Control of Human Movement, 4th ed",
              "Wiley", doi="10.1002/9780470549148",
              note="linear envelope; 6 Hz marker low-pass for walking (events.py)"),
    Reference("MeredithMaddock2001", "Meredith M, Maddock S", 2001, "Motion capture file formats explained",
              "Department of Computer Science, University of Sheffield", "",
              url="https://www.dcs.shef.ac.uk/intranet/research/public/resmes/CS0111.pdf",
              note="the BVH format: hierarchy, channels, forward kinematics (§4.7); technical report, no DOI"),
    Reference("Kobayashi2023", "Kobayashi M, Liao C-C, Inoue K, Yojima S, Takahashi M", 2023,
              "Motion capture dataset for practical use of AI-based motion editing and stylization", "arXiv",
              "2306.08861", url="https://arxiv.org/abs/2306.08861",
              note="the Bandai-Namco motion datasets (§4.7); preprint, " + _UNVERIFIED_DOI),
    Reference("McGinley2009", "McGinley JL, Baker R, Wolfe R, Morris ME", 2009,
              "The reliability of three-dimensional kinematic gait measurements: a systematic review",
              "Gait Posture", "29(3):360-369",
              doi="10.1016/j.gaitpost.2008.09.003",
              note="errors of 2-5 deg in sagittal angles; SESOI of knee-angle claims and the flat-contact band "
                   "(§4.8) and of the 2 deg SESOIs (§6.4)"),
    Reference("Perera2006", "Perera S, Mody SH, Woodman RC, Studenski SA", 2006,
              "Meaningful change and responsiveness in common physical performance measures in older adults",
              "J Am Geriatr Soc", "54(5):743-749",
              doi="10.1111/j.1532-5415.2006.00701.x",
              note="0.1 m/s meaningful change in gait speed: SESOI of the walking-speed claim (§8)"),
    # ---------------------------------------------------------------- patellofemoral joint
    Reference("vanEijden1986", "van Eijden TM, Kouwenhoven E, Verburg J, Weijs WA", 1986,
              "A mathematical model of the patellofemoral joint", "J Biomech", "19(3):219-229",
              doi="10.1016/0021-9290(86)90154-5",
              note="source data of k(x) and the effective quadriceps lever arm; paper not re-read (§1.2-1.3)"),
    Reference("Nunes2018", "Nunes GS, Scattone Silva R, dos Santos AF, Fernandes RAS, Serrão FV, de Noronha M",
              2018, "Methods to assess patellofemoral joint stress: a systematic review", "Gait Posture",
              "61:188-196", doi="10.1016/j.gaitpost.2017.12.018",
              note="identifies the common k, moment-arm and contact-area equations (§1.2-1.4)"),
    Reference("Brechter2002", "Brechter JH, Powers CM", 2002,
              "Patellofemoral stress during walking in persons with and without patellofemoral pain",
              "Med Sci Sports Exerc", "34(10):1582-1593", doi="10.1097/00005768-200210000-00009",
              note="torque-driven PFJ model lineage (§1.1, §1.6)"),
    Reference("Ho2012", "Ho KY, Blanchette MG, Powers CM", 2012,
              "The influence of heel height on patellofemoral joint kinetics during walking", "Gait Posture",
              "36(2):271-275", doi="10.1016/j.gaitpost.2012.03.008",
              note="walking PFJ stress 1.9 +/- 0.7 MPa (low heels): plausibility (§1.7)"),
    Reference("Wirtz2012", "Wirtz AD, Willson JD, Kernozek TW, Hong DA", 2012,
              "Patellofemoral joint stress during running in females with and without patellofemoral pain",
              "Knee", "19(5):703-708",
              url="https://www.scribd.com/document/646028519/Patellofemoral-joint-stress-during-running-in-females",
              note="model family of the unverified quadratic contact area (§1.4c); " + _UNVERIFIED_DOI),
    Reference("Willson2014", "Willson JD, Sharpee R, Meardon SA, Kernozek TW", 2014,
              "Effects of step length on patellofemoral joint stress in female runners with and without "
              "patellofemoral pain", "Clin Biomech", "29(3):243-247",
              url="https://c.coek.info/pdf-effects-of-step-length-on-patellofemoral-joint-stress-in-female-"
                  "runners-with-and.html",
              note="model family of the unverified quadratic contact area (§1.4c); " + _UNVERIFIED_DOI),
    Reference("Vannatta2015", "Vannatta CN, Kernozek TW", 2015,
              "Patellofemoral joint stress during running with alterations in foot strike pattern",
              "Med Sci Sports Exerc", "47(5):1001-1008", doi="10.1249/MSS.0000000000000503",
              note="stress-time integral over stance (§1.1, §1.6)"),
    Reference("Roos2012", "Roos PE, Barton N, van Deursen RWM", 2012,
              "Patellofemoral joint compression forces in backward and forward running", "J Biomech",
              "45(9):1656-1660", doi="10.1016/j.jbiomech.2012.03.020",
              note="backward running: lower PFJ compression (claims scorecard source)"),
    Reference("FlynnSoutasLittle1995", "Flynn TW, Soutas-Little RW", 1995,
              "Patellofemoral joint compressive forces in forward and backward running",
              "J Orthop Sports Phys Ther", "21(5):277-282",
              url="https://pubmed.ncbi.nlm.nih.gov/7787851/",
              note="claims scorecard source; " + _UNVERIFIED_DOI),
    # ---------------------------------------------------------------- knee adduction moment, tibiofemoral
    Reference("Favre2012", "Favre J, Hayoz M, Erhart-Hledik JC, Andriacchi TP", 2012,
              "A neural network model to predict knee adduction moment during walking based on ground "
              "reaction force and anthropometric measurements", "J Biomech", "45(4):692-698",
              doi="10.1016/j.jbiomech.2011.11.057", note="%BW*Ht normalisation of the KAM (§2.2)"),
    Reference("Lewinson2015", "Lewinson RT, Worobets JT, Stefanyshyn DJ", 2015,
              "Calculation of external knee adduction moments: a comparison of an inverse dynamics approach "
              "and a simplified lever-arm approach", "Knee", "22(4):292-297", doi="10.1016/j.knee.2015.04.003",
              note="lever-arm KAM agrees poorly with inverse dynamics: diagnostic only (§2.3)"),
    Reference("Lerner2015", "Lerner ZF, DeMers MS, Delp SL, Browning RC", 2015,
              "How tibiofemoral alignment and contact locations affect predictions of medial and lateral "
              "tibiofemoral contact forces", "J Biomech", "48(4):644-650", doi="10.1016/j.jbiomech.2014.12.049",
              note="intercondylar distance d = 0.04 m as cited by OpenCap computeMCF (§3.1)"),
    Reference("Walter2010", "Walter JP, D'Lima DD, Colwell CW Jr, Fregly BJ", 2010,
              "Decreased knee adduction moment does not guarantee decreased medial contact force during gait",
              "J Orthop Res", "28(10):1348-1354", doi="10.1002/jor.21142",
              note="KAM+KFM regression surrogate; NOT implemented, coefficients unavailable (§3.2)"),
    Reference("Kutzner2013", "Kutzner I, Trepczynski A, Heller MO, Bergmann G", 2013,
              "Knee adduction moment and medial contact force - facts about their correlation during gait",
              "PLoS One", "8(12):e81036", doi="10.1371/journal.pone.0081036",
              note="KAM is only a moderate surrogate of medial contact force (§3.2)"),
    Reference("Keller1996", "Keller TS, et al.", 1996,
              "Relationship between vertical ground reaction force and speed during walking, slow jogging, "
              "and running", "Clin Biomech", "11(5):253-259",
              url="https://eurekamag.com/research/009/330/009330470.php",
              note="plausibility bands of vGRF peaks and loading rate; " + _UNVERIFIED_DOI),
    Reference("Milner2006", "Milner CE, Ferber R, Pollard CD, Hamill J, Davis IS", 2006,
              "Biomechanical factors associated with tibial stress fracture in female runners",
              "Med Sci Sports Exerc", "38(2):323-328", doi="10.1249/01.mss.0000183477.75808.92",
              note="'force_20_80' loading-rate definition (not the default); DOI checked on the publisher's page"),
    # ---------------------------------------------------------------- EMG
    Reference("Hermens2000", "Hermens HJ, Freriks B, Disselhorst-Klug C, Rau G", 2000,
              "Development of recommendations for SEMG sensors and sensor placement procedures",
              "J Electromyogr Kinesiol", "10(5):361-374", doi="10.1016/S1050-6411(00)00027-4",
              note="SENIAM recommendations (§5.1-5.2)"),
    Reference("DeLuca2010", "De Luca CJ, Gilmore LD, Kuznetsov M, Roy SH", 2010,
              "Filtering the surface EMG signal: movement artifact and baseline noise contamination",
              "J Biomech", "43(8):1573-1579", doi="10.1016/j.jbiomech.2010.01.027",
              note="20 Hz high-pass corner against movement artefact (§5.2)"),
    Reference("Besomi2020", "Besomi M, Hodges PW, Clancy EA, et al.", 2020,
              "Consensus for experimental design in electromyography (CEDE) project: amplitude normalization "
              "matrix", "J Electromyogr Kinesiol", "53:102438", doi="10.1016/j.jelekin.2020.102438",
              note="one amplitude reference across tasks, never per task (§5.4)"),
    Reference("Rudolph2000", "Rudolph KS, Axe MJ, Snyder-Mackler L", 2000,
              "Dynamic stability after ACL injury: who can hop?", "Knee Surg Sports Traumatol Arthrosc",
              "8(5):262-269", doi="10.1007/s001670000130", note="co-contraction index (§5.6)"),
    Reference("FalconerWinter1985", "Falconer K, Winter DA", 1985,
              "Quantitative assessment of co-contraction at the ankle joint in walking",
              "Electromyogr Clin Neurophysiol", "25(2-3):135-149", url="https://pubmed.ncbi.nlm.nih.gov/3987606/",
              note="%COACT co-contraction index (§5.6); no DOI exists"),
    # ---------------------------------------------------------------- statistics: paired, effect sizes
    Reference("Lakens2013", "Lakens D", 2013,
              "Calculating and reporting effect sizes to facilitate cumulative science: a practical primer for "
              "t-tests and ANOVAs", "Front Psychol", "4:863", doi="10.3389/fpsyg.2013.00863",
              note="d_z and d_av / g_av for within-subject designs (§6.3)"),
    Reference("Cumming2001", "Cumming G, Finch S", 2001,
              "A primer on the understanding, use, and calculation of confidence intervals that are based on "
              "central and noncentral distributions", "Educ Psychol Meas", "61(4):532-574",
              doi="10.1177/0013164401614002", note="noncentral-t CI of d_z (§6.3)"),
    Reference("Steiger2004", "Steiger JH", 2004,
              "Beyond the F test: effect size confidence intervals and tests of close fit in the analysis of "
              "variance and contrast analysis", "Psychol Methods", "9(2):164-182",
              doi="10.1037/1082-989X.9.2.164", note="noncentral-t CI inversion (§6.3)"),
    Reference("Hedges1981", "Hedges LV", 1981,
              "Distribution theory for Glass's estimator of effect size and related estimators", "J Educ Stat",
              "6(2):107-128", doi="10.3102/10769986006002107", note="small-sample correction J (§6.3, §6.6)"),
    Reference("AlginaKeselman2003", "Algina J, Keselman HJ", 2003, "Approximate confidence intervals for effect sizes",
              "Educ Psychol Meas", "63(4):537-553", doi="10.1177/0013164403256358",
              note="approximate CI of g_av (§6.3)"),
    Reference("Wilcoxon1945", "Wilcoxon F", 1945, "Individual comparisons by ranking methods", "Biometrics Bull",
              "1(6):80-83", doi="10.2307/3001968", note="signed-rank test (§6.3)"),
    # ---------------------------------------------------------------- missing data
    Reference("FritschCarlson1980", "Fritsch FN, Carlson RE", 1980, "Monotone piecewise cubic interpolation",
              "SIAM J Numer Anal", "17(2):238-246", url="https://netlib.org/slatec/pchip",
              note="PCHIP filling of short gaps in C3D point data when the map asks for it (§0.3); "
                   + _UNVERIFIED_DOI),
    # ---------------------------------------------------------------- multiplicity, equivalence, claims
    Reference("Holm1979", "Holm S", 1979, "A simple sequentially rejective multiple test procedure",
              "Scand J Stat", "6(2):65-70", url="https://www.jstor.org/stable/4615733",
              note="Holm adjustment within a contrast family (§6.5)"),
    Reference("Sidak1967", "Šidák Z", 1967,
              "Rectangular confidence regions for the means of multivariate normal distributions",
              "J Am Stat Assoc", "62(318):626-633", doi="10.1080/01621459.1967.10482935",
              note="Šidák per-test level of the SPM families (§6.1)"),
    Reference("Schuirmann1987", "Schuirmann DJ", 1987,
              "A comparison of the two one-sided tests procedure and the power approach for assessing the "
              "equivalence of average bioavailability", "J Pharmacokinet Biopharm", "15(6):657-680",
              doi="10.1007/BF01068419", note="TOST (§6.4)"),
    Reference("Lakens2017", "Lakens D", 2017,
              "Equivalence tests: a practical primer for t tests, correlations, and meta-analyses",
              "Soc Psychol Personal Sci", "8(4):355-362", doi="10.1177/1948550617697177",
              note="TOST and the SESOI (§6.4)"),
    Reference("Lakens2018", "Lakens D, Scheel AM, Isager PM", 2018,
              "Equivalence testing for psychological research: a tutorial", "Adv Methods Pract Psychol Sci",
              "1(2):259-269", doi="10.1177/2515245918770963",
              note="combining tests against 0 and against the SESOI (§8)"),
    # ---------------------------------------------------------------- mixed model, bootstrap
    Reference("Harville1977", "Harville DA", 1977,
              "Maximum likelihood approaches to variance component estimation and to related problems",
              "J Am Stat Assoc", "72(358):320-338", doi="10.1080/01621459.1977.10480998", note="REML (§6.2)"),
    Reference("Bates2015", "Bates D, Mächler M, Bolker B, Walker S", 2015,
              "Fitting linear mixed-effects models using lme4", "J Stat Softw", "67(1):1-48",
              doi="10.18637/jss.v067.i01", note="profiled REML criterion; isSingular rule (§6.2)"),
    Reference("Barr2013", "Barr DJ, Levy R, Scheepers C, Tily HJ", 2013,
              "Random effects structure for confirmatory hypothesis testing: keep it maximal", "J Mem Lang",
              "68(3):255-278", doi="10.1016/j.jml.2012.11.001", note="random slope for the condition (§6.2)"),
    Reference("Field2007", "Field CA, Welsh AH", 2007, "Bootstrapping clustered data", "J R Stat Soc B",
              "69(3):369-390", doi="10.1111/j.1467-9868.2007.00593.x", note="cluster bootstrap (§6.2)"),
    Reference("Davison1997", "Davison AC, Hinkley DV", 1997, "Bootstrap Methods and their Application",
              "Cambridge University Press", doi="10.1017/CBO9780511802843",
              note="resampling top-level units; studentized (bootstrap-t) intervals (§6.2)"),
    Reference("Kuznetsova2017", "Kuznetsova A, Brockhoff PB, Christensen RHB", 2017,
              "lmerTest package: tests in linear mixed effects models", "J Stat Softw", "82(13):1-26",
              doi="10.18637/jss.v082.i13", note="Satterthwaite df of mixed-model fixed effects (§6.2)"),
    Reference("Satterthwaite1946", "Satterthwaite FE", 1946,
              "An approximate distribution of estimates of variance components", "Biometrics Bull", "2(6):110-114",
              url="https://www.jstor.org/stable/3002019",
              note="approximate degrees of freedom (§6.2); " + _UNVERIFIED_DOI),
    Reference("Bertsekas1982", "Bertsekas DP", 1982,
              "Projected Newton methods for optimization problems with simple constraints", "SIAM J Control Optim",
              "20(2):221-246", doi="10.1137/0320018", note="bound-constrained Newton iteration of the REML engine (§6.2)"),
    Reference("Cameron2008", "Cameron AC, Gelbach JB, Miller DL", 2008,
              "Bootstrap-based improvements for inference with clustered errors", "Rev Econ Stat", "90(3):414-427",
              doi="10.1162/rest.90.3.414",
              note="cluster bootstrap-t with few clusters (§6.2)"),
    Reference("Conover1999", "Conover WJ", 1999, "Practical Nonparametric Statistics, 3rd ed", "Wiley", "",
              url="https://search.worldcat.org/search?q=isbn%3A9780471160687",
              note="sign test and the order-statistic interval for the median (§3.4): the claims interval when "
                   "all paired differences are equal (§8); a book, no DOI"),
    Reference("Dunn1961", "Dunn OJ", 1961, "Multiple comparisons among means", "J Am Stat Assoc", "56(293):52-64",
              doi="10.1080/01621459.1961.10482090",
              note="Bonferroni-adjusted simultaneous intervals of the claims family (§8)"),
    # ---------------------------------------------------------------- SPM
    Reference("Pataky2012", "Pataky TC", 2012, "One-dimensional statistical parametric mapping in Python",
              "Comput Methods Biomech Biomed Engin", "15(3):295-301", doi="10.1080/10255842.2010.527837",
              note="spm1d (§6.1)"),
    Reference("Pataky2013", "Pataky TC, Robinson MA, Vanrenterghem J", 2013,
              "Vector field statistical analysis of kinematic and force trajectories", "J Biomech",
              "46(14):2394-2401",
              url="https://www.researchgate.net/publication/255738742_Vector_field_statistical_analysis_of_"
                  "kinematic_and_force_trajectories",
              note="SPM for biomechanical trajectories (§6.1); " + _UNVERIFIED_DOI),
    Reference("Worsley1996", "Worsley KJ, Marrett S, Neelin P, Vandal AC, Friston KJ, Evans AC", 1996,
              "A unified statistical approach for determining significant signals in images of cerebral "
              "activation", "Hum Brain Mapp", "4(1):58-73",
              doi="10.1002/(SICI)1097-0193(1996)4:1<58::AID-HBM4>3.0.CO;2-O",
              note="random field theory threshold (§6.1)"),
    # ---------------------------------------------------------------- meta-analysis
    Reference("Borenstein2009", "Borenstein M, Hedges LV, Higgins JPT, Rothstein HR", 2009,
              "Introduction to Meta-Analysis", "Wiley", doi="10.1002/9780470743386",
              note="d and g for independent and matched groups, with variances (§6.6)"),
    Reference("DerSimonian1986", "DerSimonian R, Laird N", 1986, "Meta-analysis in clinical trials",
              "Control Clin Trials", "7(3):177-188", doi="10.1016/0197-2456(86)90046-2",
              note="moment estimator of tau^2 (§6.6)"),
    Reference("Paule1982", "Paule RC, Mandel J", 1982, "Consensus values and weighting factors",
              "J Res Natl Bur Stand", "87(5):377-385", doi="10.6028/jres.087.022",
              note="iterative estimator of tau^2 (§6.6)"),
    Reference("Higgins2002", "Higgins JPT, Thompson SG", 2002, "Quantifying heterogeneity in a meta-analysis",
              "Stat Med", "21(11):1539-1558", doi="10.1002/sim.1186", note="I^2 (§6.6)"),
    Reference("HartungKnapp2001", "Hartung J, Knapp G", 2001,
              "On tests of the overall treatment effect in meta-analysis with normally distributed responses",
              "Stat Med", "20(12):1771-1782", doi="10.1002/sim.791", note="Hartung-Knapp t-based pooled CI (§6.6)"),
    Reference("SidikJonkman2002", "Sidik K, Jonkman JN", 2002, "A simple confidence interval for meta-analysis",
              "Stat Med", "21(21):3153-3159", doi="10.1002/sim.1262", note="the same interval, derived independently (§6.6)"),
    Reference("IntHout2014", "IntHout J, Ioannidis JPA, Borm GF", 2014,
              "The Hartung-Knapp-Sidik-Jonkman method for random effects meta-analysis is straightforward and "
              "considerably outperforms the standard DerSimonian-Laird method", "BMC Med Res Methodol", "14:25",
              doi="10.1186/1471-2288-14-25", note="why HKSJ with few studies (§6.6)"),
    Reference("Viechtbauer2010", "Viechtbauer W", 2010, "Conducting meta-analyses in R with the metafor package",
              "J Stat Softw", "36(3):1-48", doi="10.18637/jss.v036.i03",
              note="metafor: reference implementation the HKSJ numbers are checked against (§6.6)"),
    Reference("Follmann1992", "Follmann D, Elliott P, Suh I, Cutler J", 1992,
              "Variance imputation for overviews of clinical trials with continuous response",
              "J Clin Epidemiol", "45(7):769-773",
              url=_pubmed_search("Follmann Variance imputation for overviews of clinical trials with "
                                 "continuous response"),
              note="imputing an unknown within-subject correlation (§6.6); " + _UNVERIFIED_DOI),
    # ---------------------------------------------------------------- data and software
    Reference("Scherpereel2023", "Scherpereel K, Molinaro D, Inan O, Shepherd M, Young A", 2023,
              "A human lower-limb biomechanics and wearable sensors dataset during cyclic and non-cyclic "
              "activities", "Sci Data", "10:924", doi="10.1038/s41597-023-02840-6",
              note="GT23 dataset (data: doi:10.35090/gatech/70296)"),
    Reference("Delp2007", "Delp SL, Anderson FC, Arnold AS, Loan P, Habib A, John CT, Guendelman E, Thelen DG",
              2007, "OpenSim: open-source software to create and analyze dynamic simulations of movement",
              "IEEE Trans Biomed Eng", "54(11):1940-1950", doi="10.1109/TBME.2007.901024",
              note="inverse dynamics gives each coordinate's generalised force about the coordinate's own "
                   "positive direction: the GT23 moment sign follows its angle sign (§0.4)"),
    Reference("MichaudBegon2021", "Michaud B, Begon M", 2021,
              "ezc3d: an easy C3D file I/O cross-platform solution for C++, Python and MATLAB",
              "J Open Source Softw", "6(58):2911", doi="10.21105/joss.02911", note="C3D reader"),
]

#: Every reference, by key.
REFERENCES: dict[str, Reference] = {r.key: r for r in _ALL}
if len(REFERENCES) != len(_ALL):  # pragma: no cover - guards against a duplicated key
    raise RuntimeError("duplicate reference key in retrogait.report.references")

#: Author-year citations found in code strings that are deliberately NOT in
#: :data:`REFERENCES`, with the reason (the paper could not be identified or
#: its details were not verified, so no bibliographic entry is invented).
UNREGISTERED_CITATIONS: dict[str, str] = {
    "Doyle et al. 2023": "attribution of the default contact-area fit copied from the aaronsfox/pfjrf-methods "
                         "code; the paper was not identified",
    "Kernozek et al. 2015": "label of the 'kernozek_fox' contact-area set in the aaronsfox/pfjrf-methods code; "
                            "the paper's table was not checked",
    "Willson et al. 2015": "named only as a place to confirm the unverified quadratic contact area; not read",
    "Rudolph et al. 2001": "said to use the same co-contraction index as Rudolph et al. 2000; not verified",
}


def reference(key: str) -> Reference:
    """The registered reference with ``key``.

    Parameters
    ----------
    key : str
        Citation key, e.g. ``"Zeni2008"``.

    Returns
    -------
    Reference

    Raises
    ------
    KeyError
        If ``key`` is not registered; the message names the closest keys
        (case-insensitive), e.g. ``'zeni2008'`` suggests ``'Zeni2008'``.
    """
    try:
        return REFERENCES[key]
    except (KeyError, TypeError):
        pass
    by_fold = {k.casefold(): k for k in REFERENCES}
    close = difflib.get_close_matches(str(key).casefold(), list(by_fold), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(by_fold[c]) for c in close)}?" if close else ""
    raise KeyError(f"unknown reference key {key!r}{hint}")


def format_reference(ref: Reference) -> str:
    """One-line citation: ``Authors (year). Title. Journal volume_pages. doi:... | url``.

    Parameters
    ----------
    ref : Reference

    Returns
    -------
    str
        E.g. ``"Zeni JA Jr, Richards JG, Higginson JS (2008). Two simple methods ... using kinematic
        data. Gait Posture 27(4):710-714. https://doi.org/10.1016/j.gaitpost.2007.07.007"``. The link is the DOI
        when there is one, else the URL.
    """
    title = ref.title.rstrip(".")
    title += "" if title.endswith(("?", "!")) else "."
    source = " ".join(p for p in (ref.journal, ref.volume_pages) if p).rstrip(".")
    link = f"https://doi.org/{ref.doi}" if ref.doi else ref.url
    return f"{ref.authors} ({ref.year}). {title} {source}. {link}"


def _sort_key(ref: Reference) -> tuple[str, int, str]:
    # accents do not change the order: "Šidák" sorts with "Sidak"
    plain = unicodedata.normalize("NFKD", ref.authors)
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return (plain.casefold(), ref.year, ref.key)


def bibliography(keys: Iterable[str]) -> list[str]:
    """Formatted references of ``keys``, each once, sorted by authors then year.

    Parameters
    ----------
    keys : iterable of str
        Citation keys (duplicates allowed).

    Returns
    -------
    list of str
        :func:`format_reference` lines, sorted by the author list
        (case-insensitive), then year, then key.

    Raises
    ------
    KeyError
        If a key is not registered (see :func:`reference`).
    """
    refs = {k: reference(k) for k in keys}
    return [format_reference(r) for r in sorted(refs.values(), key=_sort_key)]
