// The pages' only script, served from this site: the security policy allows no inline script.
// A period picker submits its form when a period is chosen (without script, "Xem" does).
document.querySelectorAll("select[data-submit-on-change]").forEach((select) => {
  select.addEventListener("change", () => select.form.submit());
});

// A wide table or the map scrolls in its own box on a phone: a box that scrolls takes the
// keyboard's focus, so that it can be scrolled without a mouse.
function focusableWhenScrolling() {
  document.querySelectorAll(".scroll").forEach((box) => {
    if (box.scrollWidth > box.clientWidth) {
      box.tabIndex = 0;
    } else {
      box.removeAttribute("tabindex");
    }
  });
}
focusableWhenScrolling();
window.addEventListener("resize", focusableWhenScrolling);
