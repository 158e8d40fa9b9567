// The pages' only script, served from this site: the security policy allows no inline script.
// A period picker submits its form when a period is chosen (without script, "Xem" does).
document.querySelectorAll("select[data-submit-on-change]").forEach((select) => {
  select.addEventListener("change", () => select.form.submit());
});
