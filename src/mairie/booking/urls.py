from mairie.booking import views

app_name = "booking"

urlpatterns = views.urlpatterns
