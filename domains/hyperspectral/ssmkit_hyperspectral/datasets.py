"""Public hyperspectral scenes the plug-in knows (paths under the data directory, as in a local mirror).

sha256 and size are given only for files checked here: the CAVE and Jasper Ridge copies in the project's
shared data (/work/shared/data/hyperspectral). The CAVE copies are the ``NRD`` cubes reduced to 256 x 256 that
the project keeps for tests (not distributed by CAVE: ``url`` None; the original PNG folders are in CAVE's
zip). URLs of the other scenes are the hosts' published ones; their files were not fetched here, so they
carry no checksum (``ssmkit data verify`` then checks presence only).
"""

from __future__ import annotations

from ssmkit.data import DatasetEntry, RemoteFile

CAVE_HOME = "https://www.cs.columbia.edu/CAVE/databases/multispectral/"
CAVE_CITATION = ("Yasuma, F., Mitsunaga, T., Iso, D., Nayar, S. K. Generalized Assorted Pixel Camera: Post-Capture "
                 "Control of Resolution, Dynamic Range and Spectrum. Technical Report CUCS-061-08, Columbia "
                 "University (2008); IEEE TIP 19(9), 2010")
ICVL_HOME = "https://icvl.cs.bgu.ac.il/hyperspectral/"
ICVL_CITATION = ("Arad, B., Ben-Shahar, O. Sparse Recovery of Hyperspectral Signal from Natural RGB Images. "
                 "ECCV 2016")
EHU_HOME = "https://www.ehu.eus/ccwintco/index.php/Hyperspectral_Remote_Sensing_Scenes"
EHU = "https://www.ehu.eus/ccwintco/uploads"
JASPER_CITATION = ("Zhu, F. Hyperspectral Unmixing: Ground Truth Labeling, Datasets, Benchmark Performances and "
                   "Survey. arXiv:1708.05125 (2017); AVIRIS data courtesy NASA/JPL")
DC_HOME = "https://engineering.purdue.edu/~biehl/MultiSpec/hyperspectral.html"
DENOISE_CITATION = ("Wei, K., Fu, Y., Huang, H. 3-D Quasi-Recurrent Neural Network for Hyperspectral Image "
                    "Denoising. IEEE TNNLS 32(1), 2021 (the noise protocol)")

# (sha256, bytes) of the copies in /work/shared/data/hyperspectral
_CHECKS = {
    "cave/chart_and_stuffed_toy_ms_256.mat": (
        "3f4ba116e1a07e9ff51364a5910c745e1f87cb6cdaef55ab2e8820fa81fe1bfa", 3_578_854),
    "cave/cloth_ms_256.mat": ("3c26e70b799983020499d39091581a219655721fe69da4bfacdeb8b577f83430", 3_781_482),
    "jasper_ridge/jasperRidge2_R198.mat": (
        "0e4118a6452f6044978a8ca3762fb0f791115467904936d463c4e111e56e682e", 2_987_224),
}


def _checked(path: str, url: str | None = None) -> RemoteFile:
    sha, size = _CHECKS[path]
    return RemoteFile(f"hyperspectral/{path}", url=url, sha256=sha, size=size)


DATASETS: dict[str, DatasetEntry] = {
    "cave": DatasetEntry(
        files=(_checked("cave/chart_and_stuffed_toy_ms_256.mat"), _checked("cave/cloth_ms_256.mat")),
        description="CAVE multispectral scenes 'chart_and_stuffed_toy' and 'cloth': 31 bands 400-700 nm (10 nm), "
                    "16-bit, reduced from 512 x 512 to 256 x 256, MATLAB v5 variable NRD (H, W, bands). The whole "
                    "database (32 scenes, folders of 16-bit PNG bands <scene>_ms_01.png..31.png, readable with "
                    "the 'png' reader) is the zip on the homepage; not fetched by ssmkit.",
        licence="Columbia CAVE: made available to the research community; research use, do not redistribute",
        citation=CAVE_CITATION, homepage=CAVE_HOME),
    "jasper_ridge": DatasetEntry(
        files=(_checked("jasper_ridge/jasperRidge2_R198.mat"),),
        description="AVIRIS Jasper Ridge, the 100 x 100 sub-scene with 198 of 224 bands (380-2500 nm, water "
                    "bands removed), unmixing layout: Y (198 x 10000, pixels column-major) + nRow/nCol, uint16, "
                    "maxValue 5000. No stable direct URL (the author's page moved); see the citation.",
        licence="NASA/JPL AVIRIS data, freely available; cut by F. Zhu", citation=JASPER_CITATION,
        homepage="https://aviris.jpl.nasa.gov/"),
    "icvl": DatasetEntry(
        files=(RemoteFile("hyperspectral/icvl"),),
        description="ICVL natural hyperspectral images: 201 scenes of 1392 x 1300 x 31 bands (400-700 nm), MATLAB "
                    "v7.3 files with 'rad' and 'bands' (wavelengths). The denoising protocol trains on 100 and "
                    "tests on 50 cubes (centre 512 x 512 crops). Download the .mat files from the homepage into "
                    "DATA_DIR/hyperspectral/icvl/ (registration page, no direct URL).",
        licence="research use (BGU ICVL)", citation=ICVL_CITATION + "; " + DENOISE_CITATION, homepage=ICVL_HOME),
    "washington_dc_mall": DatasetEntry(
        files=(RemoteFile("hyperspectral/washington_dc_mall/dc.tif"),),
        description="HYDICE Washington DC Mall: 1280 x 307 pixels, 191 bands (0.4-2.4 um), multi-page TIFF "
                    "'dc.tif' inside Purdue's MultiSpec hyperspectral project zip (see the homepage); not fetched "
                    "by ssmkit.",
        licence="free for research (Purdue MultiSpec / Landgrebe)",
        citation="Landgrebe, D. A. Signal Theory Methods in Multispectral Remote Sensing. Wiley (2003)",
        homepage=DC_HOME),
    "pavia_university": DatasetEntry(
        files=(RemoteFile("hyperspectral/pavia_university/PaviaU.mat", url=f"{EHU}/e/ee/PaviaU.mat"),),
        description="ROSIS Pavia University: 610 x 340 pixels, 103 bands (430-860 nm), MATLAB variable paviaU.",
        licence="free for research (Prof. Paolo Gamba, University of Pavia; hosted by UPV/EHU GIC)",
        citation="Hyperspectral Remote Sensing Scenes, Grupo de Inteligencia Computacional, UPV/EHU",
        homepage=EHU_HOME),
    "indian_pines": DatasetEntry(
        files=(RemoteFile("hyperspectral/indian_pines/Indian_pines_corrected.mat",
                          url=f"{EHU}/6/67/Indian_pines_corrected.mat"),),
        description="AVIRIS Indian Pines: 145 x 145 pixels, 200 bands (water absorption bands removed), MATLAB "
                    "variable indian_pines_corrected.",
        licence="free for research (Purdue University; hosted by UPV/EHU GIC)",
        citation="Baumgardner, M. F., Biehl, L. L., Landgrebe, D. A. 220 Band AVIRIS Hyperspectral Image Data Set: "
                 "June 12, 1992 Indian Pine Test Site 3. Purdue University Research Repository (2015). "
                 "doi:10.4231/R7RX991C",
        homepage=EHU_HOME),
}

__all__ = ["DATASETS"]
