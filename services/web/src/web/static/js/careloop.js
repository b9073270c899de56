// careloop pages: small progressive enhancements. Every page works without this file.
"use strict";
document.documentElement.classList.add("has-js");

// A map that picks a point: clicking it fills the lat/lng inputs it names and moves the pin.
function enhancePickers() {
  document.querySelectorAll("svg[data-pick-lat]").forEach((svg) => {
    const lat = document.getElementById(svg.dataset.pickLat);
    const lng = document.getElementById(svg.dataset.pickLng);
    const pin = svg.querySelector(".pin");
    const [west, south, east, north] = svg.dataset.bounds.split(",").map(Number);
    const box = svg.viewBox.baseVal;
    const place = (la, ln) => {
      if (!pin || Number.isNaN(la) || Number.isNaN(ln)) return;
      pin.setAttribute("cx", String(((ln - west) / (east - west)) * box.width));
      pin.setAttribute("cy", String(((north - la) / (north - south)) * box.height));
      pin.setAttribute("visibility", "visible");
    };
    svg.addEventListener("click", (event) => {
      const point = svg.createSVGPoint();
      point.x = event.clientX; point.y = event.clientY;
      const at = point.matrixTransform(svg.getScreenCTM().inverse());
      const la = north - (at.y / box.height) * (north - south);
      const ln = west + (at.x / box.width) * (east - west);
      lat.value = la.toFixed(5); lng.value = ln.toFixed(5);
      place(la, ln);
      event.preventDefault();
    });
    [lat, lng].forEach((input) => input.addEventListener("change", () => place(parseFloat(lat.value), parseFloat(lng.value))));
    place(parseFloat(lat.value), parseFloat(lng.value));
  });
  document.querySelectorAll("button[data-locate-lat]").forEach((button) => {
    if (!navigator.geolocation) return;
    button.hidden = false;
    button.addEventListener("click", () => {
      navigator.geolocation.getCurrentPosition((pos) => {
        const lat = document.getElementById(button.dataset.locateLat);
        const lng = document.getElementById(button.dataset.locateLng);
        lat.value = pos.coords.latitude.toFixed(5); lng.value = pos.coords.longitude.toFixed(5);
        lat.dispatchEvent(new Event("change"));
      });
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  enhancePickers();
});
document.addEventListener("htmx:afterSwap", enhancePickers);
