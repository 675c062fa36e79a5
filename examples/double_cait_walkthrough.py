# %% [markdown]
# # Sequential double-CAIT with caitlab: a walkthrough
#
# Cs+@Rb+@Li3B7O12 (Gunawan, Schäfer, Weitzel, PCCP 2026): simulate both beam stages, look at
# the profiles, vary D_Cs by ±20 % and put the result next to a (synthetic) ToF-SIMS profile.
# Run it as a script (`python examples/double_cait_walkthrough.py`) or cell by cell.

# %%
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt

import caitlab
from caitlab.examples import example_path, load_example

out = Path("runs/walkthrough")
out.mkdir(parents=True, exist_ok=True)

# %% The paper's case, from the built-in config (print it with `caitlab example double-cait`)
experiment = load_example("double-cait")
result = experiment.run()
for stage in result.summary()["stages"]:
    print(
        f"{stage['name']}: {stage['charge_C'] * 1e3:.3f} mC, "
        f"conservation error {stage['conservation_rel_error']:.1e}"
    )
result.save(out / "paper")

# %% Each stage's final profile: fractions of n0 over depth in nm (an xarray DataArray)
fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True, constrained_layout=True)
for ax, name in zip(axes, ["Rb-CAIT", "Cs-CAIT"]):
    final = result.stage(name).fractions
    for species in final["species"].values:
        ax.plot(final["depth"], final.sel(species=species), label=species)
    ax.set(xlim=(0, 150), xlabel="depth / nm", title=f"after {name}")
axes[0].set_ylabel("fraction of n0")
axes[0].legend()
fig.savefig(out / "profiles.png", dpi=120)

# %% D_Cs ± 20 %: where does the local Rb maximum go?
cs_stage = experiment.stages[1]
for d_cs in (2.4e-23, 3.1e-23, 3.8e-23):
    models = {**cs_stage.diffusivity, "Cs": caitlab.ConstantD(d=d_cs)}
    variant = experiment.with_(stages=[experiment.stages[0], cs_stage.with_(diffusivity=models)])
    run = variant.run()
    rb = run.stage("Cs-CAIT").fractions.sel(species="Rb")
    peak = int(np.argmax(rb.values))
    depth_nm = float(rb["depth"][peak])
    charge_mc = run.stages[1].charge_C * 1e3
    rb_max = float(rb[peak])
    print(f"D_Cs = {d_cs:.1e}: Rb max {rb_max:.2f} at {depth_nm:.1f} nm, {charge_mc:.2f} mC")

# %% Next to a measured profile: the synthetic SurfaceLab export shipped with caitlab
from caitlab import sims  # noqa: E402

export = example_path("double-cait").parent / "synthetic_double_cait_stage2.txt"
measured = sims.process_profile(sims.read_profile(export), crater_depth_m=310e-9)
comparison = sims.compare_profiles(result, measured, sims.GaussianResponse(20e-9), "Cs-CAIT")
print(f"residual RMS of the fractions after stage 2: {comparison.residual_rms:.3f}")
