//! Finding wgpu adapters: every GPU the system's Vulkan, Metal, DX12 or GL drivers expose.

use wgpu::{Adapter, Backend as GfxBackend, DeviceType, Features, Instance, InstanceDescriptor};

/// One adapter as `regpow devices` lists it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AdapterSummary {
    /// Position in the list: what `--device` takes.
    pub index: usize,
    /// Adapter name from the driver.
    pub name: String,
    /// `discrete-gpu`, `integrated-gpu`, `virtual-gpu`, `cpu` or `other`.
    pub device_type: String,
    /// Graphics API: `vulkan`, `metal`, `dx12` or `gl`.
    pub api: String,
    /// Driver name and version as the driver reports them.
    pub driver: String,
    /// Whether the adapter offers 64-bit integers in shaders (the faster Keccak lanes).
    pub int64: bool,
    /// True for real GPUs; false for software rasterisers such as lavapipe.
    pub is_gpu: bool,
}

/// A new wgpu instance; `WGPU_BACKEND` and the other wgpu environment variables apply.
pub(crate) fn instance() -> Instance {
    Instance::new(InstanceDescriptor::new_without_display_handle_from_env())
}

/// Every adapter, real GPUs first, each physical device once (Vulkan preferred over Metal,
/// DX12 and GL when a driver exposes it through several APIs).
pub(crate) fn enumerate(instance: &Instance) -> Vec<(Adapter, AdapterSummary)> {
    let mut adapters: Vec<Adapter> =
        pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
    adapters.sort_by_key(|a| {
        let info = a.get_info();
        (!is_gpu(info.device_type), api_rank(info.backend))
    });
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for adapter in adapters {
        let info = adapter.get_info();
        let key = (info.name.clone(), info.vendor, info.device);
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let driver = [info.driver.as_str(), info.driver_info.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        let summary = AdapterSummary {
            index: out.len(),
            name: info.name.clone(),
            device_type: device_type_name(info.device_type).into(),
            api: info.backend.to_str().into(),
            driver,
            int64: adapter.features().contains(Features::SHADER_INT64),
            is_gpu: is_gpu(info.device_type),
        };
        out.push((adapter, summary));
    }
    out
}

/// Every adapter on this machine, as `regpow devices` shows them.
pub fn list() -> Vec<AdapterSummary> {
    enumerate(&instance()).into_iter().map(|(_, s)| s).collect()
}

fn is_gpu(t: DeviceType) -> bool {
    matches!(
        t,
        DeviceType::DiscreteGpu | DeviceType::IntegratedGpu | DeviceType::VirtualGpu
    )
}

fn api_rank(b: GfxBackend) -> u8 {
    match b {
        GfxBackend::Vulkan => 0,
        GfxBackend::Metal => 1,
        GfxBackend::Dx12 => 2,
        GfxBackend::Gl => 3,
        _ => 4,
    }
}

fn device_type_name(t: DeviceType) -> &'static str {
    match t {
        DeviceType::DiscreteGpu => "discrete-gpu",
        DeviceType::IntegratedGpu => "integrated-gpu",
        DeviceType::VirtualGpu => "virtual-gpu",
        DeviceType::Cpu => "cpu",
        DeviceType::Other => "other",
    }
}
