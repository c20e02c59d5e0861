//! TileJSON 3.0.0 documents describing a vector tile layer (what MapLibre fetches from
//! `/tiles/{layer}.json`).
//!
//! Owns the document shape and its serialisation. It must not know routes or hosts: the
//! caller passes the `tiles` URL template (absolute under a configured public URL, or
//! relative to the site; never built from a request's `Host`).

use std::collections::BTreeMap;

use geo::Rect;
use serde::Serialize;

use super::mvt::Value;
use super::tilemath::MAX_ZOOM;

/// A TileJSON 3.0.0 document; build with [`TileJson::new`] and the `with_*` methods.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TileJson {
    /// Always `"3.0.0"`.
    pub tilejson: &'static str,
    /// Tile URL templates with `{z}`, `{x}`, `{y}`.
    pub tiles: Vec<String>,
    /// Layer descriptions (required for vector tiles).
    pub vector_layers: Vec<VectorLayer>,
    /// Human-readable name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Attribution HTML shown by the map.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribution: Option<String>,
    /// Lowest zoom served.
    pub minzoom: u8,
    /// Highest zoom served.
    pub maxzoom: u8,
    /// `[west, south, east, north]` in degrees.
    pub bounds: [f64; 4],
    /// `[lon, lat, zoom]` where a client should start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub center: Option<[f64; 3]>,
    /// Always `"xyz"`.
    pub scheme: &'static str,
}

/// One entry of `vector_layers`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VectorLayer {
    /// Layer id: the MVT layer name.
    pub id: String,
    /// Attribute name → type (`"String"`, `"Number"`, `"Boolean"`).
    pub fields: BTreeMap<String, String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Lowest zoom the layer appears at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minzoom: Option<u8>,
    /// Highest zoom the layer appears at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maxzoom: Option<u8>,
}

impl VectorLayer {
    /// A layer with no fields yet.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            fields: BTreeMap::new(),
            description: None,
            minzoom: None,
            maxzoom: None,
        }
    }

    /// Records the TileJSON type of an attribute (ignored for `Null`). A field seen with
    /// two different types is reported as `"String"`, the safest for a style to compare.
    pub fn observe(&mut self, key: &str, value: &Value) {
        let Some(ty) = field_type(value) else {
            return;
        };
        match self.fields.get_mut(key) {
            Some(existing) if existing != ty => *existing = "String".to_owned(),
            Some(_) => {}
            None => {
                self.fields.insert(key.to_owned(), ty.to_owned());
            }
        }
    }
}

/// The TileJSON field type of an attribute value.
pub fn field_type(v: &Value) -> Option<&'static str> {
    match v {
        Value::String(_) => Some("String"),
        Value::Int(_) | Value::UInt(_) | Value::Double(_) | Value::Float(_) => Some("Number"),
        Value::Bool(_) => Some("Boolean"),
        Value::Null => None,
    }
}

impl TileJson {
    /// A document for one tile URL template, whole world, zooms 0..=MAX_ZOOM.
    pub fn new(tiles_url: impl Into<String>) -> Self {
        Self {
            tilejson: "3.0.0",
            tiles: vec![tiles_url.into()],
            vector_layers: Vec::new(),
            name: None,
            description: None,
            attribution: None,
            minzoom: 0,
            maxzoom: MAX_ZOOM,
            bounds: [-180.0, -85.051_128_779_806_59, 180.0, 85.051_128_779_806_59],
            center: None,
            scheme: "xyz",
        }
    }

    /// Sets the name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the description.
    pub fn with_description(mut self, d: impl Into<String>) -> Self {
        self.description = Some(d.into());
        self
    }

    /// Sets the attribution (e.g. "© OpenStreetMap contributors").
    pub fn with_attribution(mut self, a: impl Into<String>) -> Self {
        self.attribution = Some(a.into());
        self
    }

    /// Sets the zoom range; the two are swapped if given backwards and capped at
    /// [`MAX_ZOOM`].
    pub fn with_zoom_range(mut self, minzoom: u8, maxzoom: u8) -> Self {
        let (a, b) = (minzoom.min(maxzoom), minzoom.max(maxzoom));
        self.minzoom = a.min(MAX_ZOOM);
        self.maxzoom = b.min(MAX_ZOOM);
        self
    }

    /// Sets the bounds from a lon/lat rectangle.
    pub fn with_bounds(mut self, r: Rect<f64>) -> Self {
        self.bounds = [r.min().x, r.min().y, r.max().x, r.max().y];
        self
    }

    /// Sets the centre; the zoom is clamped into `minzoom..=maxzoom`.
    pub fn with_center(mut self, lon: f64, lat: f64, zoom: u8) -> Self {
        let z = zoom.clamp(self.minzoom, self.maxzoom);
        self.center = Some([lon, lat, f64::from(z)]);
        self
    }

    /// Adds a `vector_layers` entry.
    pub fn with_vector_layer(mut self, layer: VectorLayer) -> Self {
        self.vector_layers.push(layer);
        self
    }

    /// Serialises to a JSON value.
    pub fn to_json(&self) -> serde_json::Value {
        // Serialising plain structs of strings and numbers cannot fail; NaN floats become
        // null, which is still valid JSON.
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::coord;

    #[test]
    fn document_has_required_members() {
        let mut layer = VectorLayer::new("grids");
        layer.observe("code", &Value::from("A01"));
        layer.observe("households", &Value::Int(3));
        layer.observe("mixed", &Value::Int(3));
        layer.observe("mixed", &Value::Bool(true));
        layer.observe("none", &Value::Null);
        let tj = TileJson::new("http://h/tiles/grids/{z}/{x}/{y}.mvt")
            .with_zoom_range(18, 10)
            .with_bounds(Rect::new(
                coord! { x: 105.6, y: 32.3 },
                coord! { x: 105.8, y: 32.5 },
            ))
            .with_center(105.7, 32.4, 3)
            .with_attribution("© OpenStreetMap contributors")
            .with_vector_layer(layer)
            .to_json();
        assert_eq!(tj["tilejson"], "3.0.0");
        assert_eq!(tj["minzoom"], 10);
        assert_eq!(tj["maxzoom"], 18);
        assert_eq!(tj["center"][2], 10.0);
        assert_eq!(tj["bounds"][0], 105.6);
        assert_eq!(tj["vector_layers"][0]["fields"]["households"], "Number");
        assert_eq!(tj["vector_layers"][0]["fields"]["mixed"], "String");
        assert!(tj["vector_layers"][0]["fields"].get("none").is_none());
    }
}
