//! Loading of safetensors weight files into burn modules, with every tensor's name, type and
//! shape checked, and a check that the file contains no tensor the architecture does not use.
//!
//! The name of each tensor is chosen by the network's own loader (one table per network, in
//! `encoders/*.rs` and `head/*.rs`); this module only enforces that the file matches it.

use std::collections::BTreeSet;
use std::path::Path;

use burn::module::{Param, RunningState};
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, Embedding, LayerNorm, Linear};
use burn::tensor::{Device, Tensor, TensorData};
use safetensors::{Dtype, SafeTensors};

use crate::error::{Error, Result};

/// How to get a correct frozen-encoder weights file, printed with every weights error.
pub const REGENERATE_HINT: &str = "Restore the file from the repository (git checkout -- weights/) \
     or regenerate it with `python3 tools/convert_weights.py` (see weights/README.md)";

/// A parsed safetensors file from which tensors are taken by name.
pub struct WeightFile {
    label: String,
    bytes: Vec<u8>,
    unused: BTreeSet<String>,
    fix: &'static str,
}

impl WeightFile {
    /// Reads and parses the file at `path`. `fix` is the hint printed with errors on how to
    /// obtain a correct file.
    pub fn open(path: &Path, fix: &'static str) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => Error::Weights {
                file: path.display().to_string(),
                detail: "file not found".into(),
                fix,
            },
            _ => Error::io("failed to read", path, source),
        })?;
        Self::from_bytes(path.display().to_string(), bytes, fix)
    }

    /// Parses `bytes` (a whole safetensors file); `label` names it in errors.
    pub fn from_bytes(label: impl Into<String>, bytes: Vec<u8>, fix: &'static str) -> Result<Self> {
        let label = label.into();
        let unused = {
            let parsed = SafeTensors::deserialize(&bytes).map_err(|error| Error::Weights {
                file: label.clone(),
                detail: format!("not a readable safetensors file ({error})"),
                fix,
            })?;
            parsed.names().into_iter().map(str::to_owned).collect()
        };
        Ok(Self {
            label,
            bytes,
            unused,
            fix,
        })
    }

    /// Size of the whole file in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Tells whether the file is empty (never true for a parsed file).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    fn error(&self, detail: String) -> Error {
        Error::Weights {
            file: self.label.clone(),
            detail,
            fix: self.fix,
        }
    }

    /// Takes tensor `name`, checking that its shape is `shape`, converted to f32 on `device`.
    pub fn tensor<const D: usize>(
        &mut self,
        name: &str,
        shape: [usize; D],
        device: &Device,
    ) -> Result<Tensor<D>> {
        let values = self.values(name, &shape)?;
        Ok(Tensor::from_data(TensorData::new(values, shape), device))
    }

    /// Takes tensor `name` as f32 values in row-major order, checking its shape.
    pub fn values(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let parsed =
            SafeTensors::deserialize(&self.bytes).map_err(|error| self.error(error.to_string()))?;
        let view = parsed.tensor(name).map_err(|_| {
            self.error(format!(
                "tensor `{name}` is missing (expected shape {shape:?})"
            ))
        })?;
        if view.shape() != shape {
            return Err(self.error(format!(
                "tensor `{name}` has shape {:?}, expected {shape:?}",
                view.shape()
            )));
        }
        let data = view.data();
        let values: Vec<f32> = match view.dtype() {
            Dtype::F16 => data
                .chunks_exact(2)
                .map(|pair| half::f16::from_le_bytes([pair[0], pair[1]]).to_f32())
                .collect(),
            Dtype::F32 => data
                .chunks_exact(4)
                .map(|quad| f32::from_le_bytes([quad[0], quad[1], quad[2], quad[3]]))
                .collect(),
            other => {
                return Err(self.error(format!(
                    "tensor `{name}` has type {other:?}, expected F16 or F32"
                )));
            }
        };
        self.unused.remove(name);
        Ok(values)
    }

    /// Returns the metadata string stored under `key` in the file header, if any.
    pub fn metadata(&self, key: &str) -> Option<String> {
        let (_, metadata) = SafeTensors::read_metadata(&self.bytes).ok()?;
        metadata.metadata().as_ref()?.get(key).cloned()
    }

    /// Fails if the file contains tensors that no loader took: a sign of a file made for another
    /// architecture or configuration.
    pub fn finish(self) -> Result<()> {
        if self.unused.is_empty() {
            return Ok(());
        }
        let listed: Vec<&str> = self.unused.iter().take(5).map(String::as_str).collect();
        Err(self.error(format!(
            "{} unexpected tensor(s), for example {listed:?}; the file was made for another architecture",
            self.unused.len()
        )))
    }

    /// Loads `{prefix}.weight` and, where the layer has one, `{prefix}.bias` into `conv`.
    /// The kernel is OIHW, as in PyTorch.
    pub fn conv2d(&mut self, prefix: &str, mut conv: Conv2d, device: &Device) -> Result<Conv2d> {
        let shape = conv.weight.dims();
        conv.weight =
            Param::from_tensor(self.tensor(&format!("{prefix}.weight"), shape, device)?);
        if let Some(bias) = &conv.bias {
            let shape = bias.dims();
            conv.bias = Some(Param::from_tensor(self.tensor(
                &format!("{prefix}.bias"),
                shape,
                device,
            )?));
        }
        Ok(conv)
    }

    /// Loads a PyTorch-layout linear layer (`weight` is `[out, in]`) into burn's `[in, out]` layout.
    pub fn linear(&mut self, prefix: &str, mut linear: Linear, device: &Device) -> Result<Linear> {
        let [d_input, d_output] = linear.weight.dims();
        let stored = self.values(&format!("{prefix}.weight"), &[d_output, d_input])?;

        // Transposed here, once, into contiguous memory. A transposed view would be copied into
        // a contiguous buffer by every matrix product: most of MiniLM's time for one phrase.
        let mut weight = vec![0f32; stored.len()];
        for (output, row) in stored.chunks_exact(d_input).enumerate() {
            for (input, &value) in row.iter().enumerate() {
                weight[input * d_output + output] = value;
            }
        }
        linear.weight = Param::from_tensor(Tensor::from_data(
            TensorData::new(weight, [d_input, d_output]),
            device,
        ));
        if linear.bias.is_some() {
            linear.bias = Some(Param::from_tensor(self.tensor(
                &format!("{prefix}.bias"),
                [d_output],
                device,
            )?));
        }
        Ok(linear)
    }

    /// Loads a layer norm stored as `{prefix}.weight` and `{prefix}.bias`.
    pub fn layer_norm(
        &mut self,
        prefix: &str,
        mut norm: LayerNorm,
        device: &Device,
    ) -> Result<LayerNorm> {
        let shape = norm.gamma.dims();
        norm.gamma = Param::from_tensor(self.tensor(&format!("{prefix}.weight"), shape, device)?);
        if norm.beta.is_some() {
            norm.beta = Some(Param::from_tensor(self.tensor(
                &format!("{prefix}.bias"),
                shape,
                device,
            )?));
        }
        Ok(norm)
    }

    /// Loads an embedding table stored as `{prefix}.weight`.
    pub fn embedding(
        &mut self,
        prefix: &str,
        mut embedding: Embedding,
        device: &Device,
    ) -> Result<Embedding> {
        let shape = embedding.weight.dims();
        embedding.weight =
            Param::from_tensor(self.tensor(&format!("{prefix}.weight"), shape, device)?);
        Ok(embedding)
    }

    /// Loads a batch norm stored in PyTorch's names: `weight`, `bias`, `running_mean`, `running_var`.
    pub fn batch_norm(
        &mut self,
        prefix: &str,
        mut norm: BatchNorm,
        device: &Device,
    ) -> Result<BatchNorm> {
        let shape = norm.gamma.dims();
        norm.gamma = Param::from_tensor(self.tensor(&format!("{prefix}.weight"), shape, device)?);
        norm.beta = Param::from_tensor(self.tensor(&format!("{prefix}.bias"), shape, device)?);
        norm.running_mean =
            RunningState::new(self.tensor(&format!("{prefix}.running_mean"), shape, device)?);
        norm.running_var =
            RunningState::new(self.tensor(&format!("{prefix}.running_var"), shape, device)?);
        Ok(norm)
    }
}

/// Collects named tensors and serialises them as a safetensors file, in the same names and
/// layouts that [`WeightFile`] reads back: f32 by default, f16 after [`TensorWriter::half`].
#[derive(Default)]
pub struct TensorWriter {
    tensors: Vec<(String, Vec<usize>, Vec<f32>)>,
    half: bool,
}

impl TensorWriter {
    /// Creates a writer that stores every tensor as f16: half the bytes, and the precision the
    /// shipped encoder weights already have.
    pub fn half() -> Self {
        Self {
            half: true,
            ..Self::default()
        }
    }

    /// Adds one tensor under `name`. Reads it back from its device.
    pub fn add<const D: usize>(
        &mut self,
        name: impl Into<String>,
        tensor: Tensor<D>,
    ) -> Result<()> {
        let shape = tensor.dims().to_vec();
        let values = tensor
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|error| Error::Readback(format!("{error:?}")))?;
        self.tensors.push((name.into(), shape, values));
        Ok(())
    }

    /// Adds a conv layer as `{prefix}.weight` (OIHW) and `{prefix}.bias`.
    pub fn conv2d(&mut self, prefix: &str, conv: &Conv2d) -> Result<()> {
        self.add(format!("{prefix}.weight"), conv.weight.val())?;
        if let Some(bias) = &conv.bias {
            self.add(format!("{prefix}.bias"), bias.val())?;
        }
        Ok(())
    }

    /// Adds a linear layer in PyTorch layout (`weight` is `[out, in]`).
    pub fn linear(&mut self, prefix: &str, linear: &Linear) -> Result<()> {
        self.add(format!("{prefix}.weight"), linear.weight.val().transpose())?;
        if let Some(bias) = &linear.bias {
            self.add(format!("{prefix}.bias"), bias.val())?;
        }
        Ok(())
    }

    /// Adds a batch norm in PyTorch names. The running statistics are synchronised first:
    /// burn keeps a training step's last update pending until the next read that syncs.
    pub fn batch_norm(&mut self, prefix: &str, norm: &BatchNorm) -> Result<()> {
        self.add(format!("{prefix}.weight"), norm.gamma.val())?;
        self.add(format!("{prefix}.bias"), norm.beta.val())?;
        self.add(
            format!("{prefix}.running_mean"),
            norm.running_mean.value_sync(),
        )?;
        self.add(
            format!("{prefix}.running_var"),
            norm.running_var.value_sync(),
        )?;
        Ok(())
    }

    /// Serialises every tensor added so far, with `metadata` in the header.
    pub fn to_bytes(&self, metadata: std::collections::HashMap<String, String>) -> Result<Vec<u8>> {
        let raw: Vec<(String, Vec<usize>, Vec<u8>)> = self
            .tensors
            .iter()
            .map(|(name, shape, values)| {
                let bytes = if self.half {
                    values
                        .iter()
                        .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
                        .collect()
                } else {
                    values.iter().flat_map(|v| v.to_le_bytes()).collect()
                };
                (name.clone(), shape.clone(), bytes)
            })
            .collect();
        let dtype = if self.half { Dtype::F16 } else { Dtype::F32 };
        let views = raw
            .iter()
            .map(|(name, shape, bytes)| {
                safetensors::tensor::TensorView::new(dtype, shape.clone(), bytes)
                    .map(|view| (name.clone(), view))
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|error| Error::Config {
                name: "safetensors".into(),
                detail: error.to_string(),
            })?;
        safetensors::serialize(views, Some(metadata)).map_err(|error| Error::Config {
            name: "safetensors".into(),
            detail: error.to_string(),
        })
    }
}
