//! One wgpu device: its pipelines, its two sets of buffers, and the dispatch loop.
//!
//! Two dispatches are kept in flight (double buffering): while the host waits for and reads
//! back one, the GPU already runs the next, so it never idles between batches.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use wgpu::util::DeviceExt;
use wgpu::{
    Adapter, BindGroup, Buffer, BufferUsages, ComputePipeline, Device, Features, MapMode, PollType,
    Queue, SubmissionIndex,
};

use super::adapters::AdapterSummary;
use crate::backend::{BackendError, Job, NonceRange};
use crate::gpu_job::{kernel_constants, GpuJob};
use crate::gpu_pipeline::{choose_batch, BatchSize, Dispatcher};

/// The kernel, shared by both lane variants.
const KERNEL: &str = include_str!("../../kernels/seal.wgsl");
/// Keccak lanes as u32 pairs: every adapter.
const LANES_U32: &str = include_str!("../../kernels/lanes_u32.wgsl");
/// Keccak lanes as u64: adapters with SHADER_INT64.
const LANES_U64: &str = include_str!("../../kernels/lanes_u64.wgsl");

/// Invocations per workgroup (must match `@workgroup_size` in seal.wgsl).
const WORKGROUP_SIZE: u32 = 64;
/// Nonces each invocation hashes per dispatch.
const NONCES_PER_THREAD: u32 = 4;
/// Nonces per workgroup: batches are multiples of this.
const GROUP_NONCES: u32 = WORKGROUP_SIZE * NONCES_PER_THREAD;
/// Most workgroups in one dimension of a dispatch (WebGPU limit).
const MAX_GROUPS_PER_DIM: u32 = 65_535;
/// Candidate slots per dispatch; more candidates than this are counted but not kept.
const CAPACITY: u32 = 1024;
/// Results buffer: found counter, 3 words of padding, then (lo, hi) per slot.
const RESULTS_BYTES: u64 = 16 + 8 * CAPACITY as u64;
/// Size of the Params buffer in seal.wgsl.
const PARAMS_WORDS: usize = 40;
/// A dispatch that takes longer than this is treated as a hung device.
const DISPATCH_TIMEOUT: Duration = Duration::from_secs(60);

/// Keccak lane representation in the kernel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LaneMode {
    /// Native u64 where the adapter has SHADER_INT64, else u32 pairs. On lavapipe u64 lanes
    /// measured 15–25% faster (benches/RESULTS.md).
    #[default]
    Auto,
    /// (lo, hi) pairs of u32: every adapter.
    U32,
    /// Native u64: only adapters with SHADER_INT64.
    U64,
}

/// One set of buffers for one dispatch in flight.
struct Slot {
    params: Buffer,
    results: Buffer,
    readback: Buffer,
    bind_group: BindGroup,
}

/// A device ready to search.
pub(crate) struct Worker {
    pub(crate) summary: AdapterSummary,
    pub(crate) int64_lanes: bool,
    device: Device,
    queue: Queue,
    search: ComputePipeline,
    module: wgpu::ShaderModule,
    constants: Buffer,
    seal_full: OnceLock<ComputePipeline>,
    slots: Mutex<[Slot; 2]>,
    batch: BatchSize,
    fault: Arc<Mutex<Option<String>>>,
}

impl Worker {
    /// Opens the adapter, builds the pipeline and sizes batches (`batch` overrides tuning).
    pub(crate) fn open(
        adapter: Adapter,
        summary: AdapterSummary,
        lanes: LaneMode,
        batch: Option<u32>,
    ) -> Result<Self, BackendError> {
        let int64_lanes = match lanes {
            LaneMode::Auto => summary.int64,
            LaneMode::U32 => false,
            LaneMode::U64 => true,
        };
        if int64_lanes && !summary.int64 {
            return Err(BackendError::Unavailable(format!(
                "wgpu: {} has no 64-bit shader integers (SHADER_INT64); use --gpu-lanes u32",
                summary.name
            )));
        }
        let required_features = if int64_lanes {
            Features::SHADER_INT64
        } else {
            Features::empty()
        };
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("regpow"),
            required_features,
            required_limits: adapter.limits(),
            ..Default::default()
        }))
        .map_err(|e| {
            BackendError::Unavailable(format!("wgpu: cannot open {}: {e}", summary.name))
        })?;

        let fault = Arc::new(Mutex::new(None::<String>));
        let sink = fault.clone();
        device.on_uncaptured_error(Arc::new(move |e| {
            let mut slot = sink.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert_with(|| e.to_string());
        }));

        let source = format!(
            "{}\n{KERNEL}",
            if int64_lanes { LANES_U64 } else { LANES_U32 }
        );
        // SAFETY: the kernel only indexes arrays with constants or with indices bounded by
        // its own checks (slot < capacity, offset < count), so wgpu's runtime bounds checks,
        // which cost ~10x on some drivers, are not needed.
        let module = unsafe {
            device.create_shader_module_trusted(
                wgpu::ShaderModuleDescriptor {
                    label: Some("seal.wgsl"),
                    source: wgpu::ShaderSource::Wgsl(source.into()),
                },
                wgpu::ShaderRuntimeChecks::unchecked(),
            )
        };
        let search = pipeline(&device, &module, "search");
        let constants = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("constants"),
            contents: &words_to_bytes(&kernel_constants()),
            usage: BufferUsages::UNIFORM,
        });
        let slots = [
            make_slot(&device, &search, &constants),
            make_slot(&device, &search, &constants),
        ];
        let mut worker = Self {
            summary,
            int64_lanes,
            device,
            queue,
            search,
            module,
            constants,
            seal_full: OnceLock::new(),
            slots: Mutex::new(slots),
            batch: BatchSize::fixed(GROUP_NONCES, GROUP_NONCES),
            fault,
        };
        worker.check_fault()?;
        worker.batch = choose_batch(&worker, GROUP_NONCES, batch)?;
        Ok(worker)
    }

    fn check_fault(&self) -> Result<(), BackendError> {
        match self.fault.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(message) => Err(BackendError::Fault(format!(
                "wgpu {}: {message}",
                self.summary.name
            ))),
            None => Ok(()),
        }
    }

    fn submit_on(&self, slot: &Slot, job: &GpuJob, chunk: NonceRange) -> SubmissionIndex {
        let count = u32::try_from(chunk.len()).expect("chunks fit in u32");
        let (groups_x, groups_y) = dispatch_shape(count.div_ceil(NONCES_PER_THREAD));
        let params = params_words(job, chunk.start, count, groups_x);
        self.queue
            .write_buffer(&slot.params, 0, &words_to_bytes(&params));
        self.queue.write_buffer(&slot.results, 0, &[0u8; 16]);
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
            pass.set_pipeline(&self.search);
            pass.set_bind_group(0, &slot.bind_group, &[]);
            pass.dispatch_workgroups(groups_x, groups_y, 1);
        }
        encoder.copy_buffer_to_buffer(&slot.results, 0, &slot.readback, 0, RESULTS_BYTES);
        self.queue.submit([encoder.finish()])
    }

    /// Waits for a dispatch and returns its candidate nonces (lane 3 within the target).
    fn collect_from(
        &self,
        slot: &Slot,
        submission: SubmissionIndex,
    ) -> Result<Vec<u64>, BackendError> {
        let bytes = self.read_back(&slot.readback, submission, RESULTS_BYTES)?;
        let words = bytes_to_words(&bytes);
        let kept = words[0].min(CAPACITY) as usize;
        Ok((0..kept)
            .map(|i| u64::from(words[4 + 2 * i]) | u64::from(words[5 + 2 * i]) << 32)
            .collect())
    }

    fn read_back(
        &self,
        buffer: &Buffer,
        submission: SubmissionIndex,
        len: u64,
    ) -> Result<Vec<u8>, BackendError> {
        let (tx, rx) = std::sync::mpsc::channel();
        buffer.map_async(MapMode::Read, ..len, move |r| {
            let _ = tx.send(r);
        });
        self.device
            .poll(PollType::Wait {
                submission_index: Some(submission),
                timeout: Some(DISPATCH_TIMEOUT),
            })
            .map_err(|e| BackendError::Fault(format!("wgpu {}: {e}", self.summary.name)))?;
        self.check_fault()?;
        match rx.try_recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return Err(BackendError::Fault(format!(
                    "wgpu {}: reading results failed: {e}",
                    self.summary.name
                )))
            }
            Err(_) => {
                return Err(BackendError::Fault(format!(
                    "wgpu {}: results were not ready after the dispatch completed",
                    self.summary.name
                )))
            }
        }
        let data = buffer
            .get_mapped_range(..len)
            .map_err(|e| BackendError::Fault(format!("wgpu {}: {e}", self.summary.name)))?
            .to_vec();
        buffer.unmap();
        Ok(data)
    }

    /// The full seals of `count` nonces from `start`, computed by the kernel's `seal_full`
    /// entry point: lets tests compare every kernel step with the reference.
    pub(crate) fn seals(
        &self,
        job: &Job,
        start: u64,
        count: u32,
    ) -> Result<Vec<[u8; 32]>, BackendError> {
        let pipeline = self
            .seal_full
            .get_or_init(|| pipeline(&self.device, &self.module, "seal_full"));
        let gpu_job = GpuJob::new(job);
        let (groups_x, groups_y) = dispatch_shape(count);
        let params = self
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("params"),
                contents: &words_to_bytes(&params_words(&gpu_job, start, count, groups_x)),
                usage: BufferUsages::STORAGE,
            });
        let out_len = u64::from(count) * 32;
        let out = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("seals"),
            size: out_len,
            usage: BufferUsages::STORAGE | BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let readback = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("seals readback"),
            size: out_len,
            usage: BufferUsages::MAP_READ | BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: params.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: out.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 3,
                    resource: self.constants.as_entire_binding(),
                },
            ],
        });
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(groups_x, groups_y, 1);
        }
        encoder.copy_buffer_to_buffer(&out, 0, &readback, 0, out_len);
        let submission = self.queue.submit([encoder.finish()]);
        let bytes = self.read_back(&readback, submission, out_len)?;
        Ok(bytes
            .chunks_exact(32)
            .map(|c| c.try_into().expect("32 bytes"))
            .collect())
    }
}

impl Dispatcher for Worker {
    type Pending = (usize, SubmissionIndex);

    fn sizing(&self) -> &BatchSize {
        &self.batch
    }

    fn submit(
        &self,
        slot: usize,
        job: &GpuJob,
        chunk: NonceRange,
    ) -> Result<Self::Pending, BackendError> {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        Ok((slot, self.submit_on(&slots[slot], job, chunk)))
    }

    fn collect(&self, (slot, submission): Self::Pending) -> Result<Vec<u64>, BackendError> {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        self.collect_from(&slots[slot], submission)
    }
}

fn pipeline(device: &Device, module: &wgpu::ShaderModule, entry: &str) -> ComputePipeline {
    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(entry),
        layout: None,
        module,
        entry_point: Some(entry),
        compilation_options: Default::default(),
        cache: None,
    })
}

fn make_slot(device: &Device, search: &ComputePipeline, constants: &Buffer) -> Slot {
    let params = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("params"),
        size: (PARAMS_WORDS * 4) as u64,
        usage: BufferUsages::STORAGE | BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let results = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("results"),
        size: RESULTS_BYTES,
        usage: BufferUsages::STORAGE | BufferUsages::COPY_SRC | BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let readback = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("results readback"),
        size: RESULTS_BYTES,
        usage: BufferUsages::MAP_READ | BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &search.get_bind_group_layout(0),
        entries: &[
            wgpu::BindGroupEntry {
                binding: 0,
                resource: params.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: results.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 3,
                resource: constants.as_entire_binding(),
            },
        ],
    });
    Slot {
        params,
        results,
        readback,
        bind_group,
    }
}

/// Workgroups for `invocations`, as a 2D grid within the per-dimension limit.
fn dispatch_shape(invocations: u32) -> (u32, u32) {
    let groups = invocations.div_ceil(WORKGROUP_SIZE).max(1);
    let x = groups.min(MAX_GROUPS_PER_DIM);
    (x, groups.div_ceil(x))
}

/// The Params buffer of seal.wgsl, word by word.
fn params_words(job: &GpuJob, base: u64, count: u32, groups_x: u32) -> [u32; PARAMS_WORDS] {
    let mut w = [0u32; PARAMS_WORDS];
    w[0..8].copy_from_slice(&job.midstate);
    w[8..16].copy_from_slice(&job.state14);
    w[16..32].copy_from_slice(&job.block2);
    w[32] = base as u32;
    w[33] = (base >> 32) as u32;
    w[34] = count;
    w[35] = NONCES_PER_THREAD;
    w[36] = job.target_high as u32;
    w[37] = (job.target_high >> 32) as u32;
    w[38] = groups_x;
    w[39] = CAPACITY;
    w
}

fn words_to_bytes(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

fn bytes_to_words(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu_pipeline::round_batch;

    #[test]
    fn dispatches_stay_within_the_per_dimension_limit() {
        assert_eq!(dispatch_shape(1), (1, 1));
        assert_eq!(dispatch_shape(64 * 65_535), (65_535, 1));
        assert_eq!(dispatch_shape(64 * 65_535 + 1), (65_535, 2));
        assert_eq!(round_batch(GROUP_NONCES, 1), GROUP_NONCES);
        assert_eq!(round_batch(GROUP_NONCES, u64::MAX) % GROUP_NONCES, 0);
    }
}
