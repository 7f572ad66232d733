"""Hardware facts for "how close to the hardware's limit": GPU specs and SKU detection, link ceilings, CPU peak
estimates, energy per case and throttling. Pure Python (stdlib only); no framework imports.
"""

from bench.hardware.cpu_peak import CpuFacts, CpuPeak, estimate_cpu_peak, host_cpu_peak
from bench.hardware.energy import CaseEnergy, case_energy, gflop_per_joule, idle_power_w, samples_per_joule
from bench.hardware.links import LinkCeiling, link_ceiling, pcie_gbs_per_direction, percent_of_link
from bench.hardware.sku import UNKNOWN, GpuIdentity, SkuMatch, detect_sku
from bench.hardware.specs import GpuSpec, Peak, load_specs, peak_tflops, percent_of_peak, spec_by_id
from bench.hardware.throttle import ThrottleFlag, throttle_flag

__all__ = [
    "UNKNOWN",
    "CaseEnergy",
    "CpuFacts",
    "CpuPeak",
    "GpuIdentity",
    "GpuSpec",
    "LinkCeiling",
    "Peak",
    "SkuMatch",
    "ThrottleFlag",
    "case_energy",
    "detect_sku",
    "estimate_cpu_peak",
    "gflop_per_joule",
    "host_cpu_peak",
    "idle_power_w",
    "link_ceiling",
    "load_specs",
    "pcie_gbs_per_direction",
    "peak_tflops",
    "percent_of_link",
    "percent_of_peak",
    "samples_per_joule",
    "spec_by_id",
    "throttle_flag",
]
