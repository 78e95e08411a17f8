// Minimal progressive enhancement: filters apply on change; the page works without it.
document.addEventListener("DOMContentLoaded", () => {
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => {
      const form = select.form;
      // Drop empty fields so URLs stay short and shareable.
      for (const field of form.elements) {
        if (field.name && !field.value) field.disabled = true;
      }
      form.submit();
    });
  }
});
